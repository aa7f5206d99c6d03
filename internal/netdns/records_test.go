package netdns

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestValidate(t *testing.T) {
	ok := func() Records {
		return Records{
			Network:  "my_net.example",
			Subnets:  []string{"10.90.1.0/24", "fd00:90::/64"},
			Records:  []Record{{Name: "web", Aliases: []string{"db", "a_b-c.d"}, IPv4: []string{"10.90.1.2"}, IPv6: []string{"fd00:90::2"}}},
			Upstream: []string{"192.0.2.53", "192.0.2.54:5353", "2001:db8::53", "[2001:db8::53]:5353"},
		}
	}
	r := ok()
	if err := r.Validate(); err != nil {
		t.Fatalf("Validate(%+v) = %v", r, err)
	}
	for _, tc := range []struct {
		change func(*Records)
		want   string
	}{
		{func(r *Records) { r.Network = "a b" }, `network name "a b" is not a DNS name`},
		{func(r *Records) { r.Subnets = []string{"10.90.1.0"} }, `subnet "10.90.1.0"`},
		{func(r *Records) { r.Records[0].Name = "" }, "record 0: no name"},
		{func(r *Records) { r.Records[0].Name = "web." }, `name "web." is not a DNS name`},
		{func(r *Records) { r.Records[0].Aliases = []string{"a..b"} }, `name "a..b" is not a DNS name`},
		{func(r *Records) { r.Records[0].Aliases = []string{"x/y"} }, `'/' is not a letter`},
		{func(r *Records) { r.Records[0].Aliases = []string{strings.Repeat("a", 64)} }, "1 to 63 bytes"},
		{func(r *Records) { r.Records[0].IPv4 = []string{"fd00::1"} }, `"fd00::1" is not an IPv4 address`},
		{func(r *Records) { r.Records[0].IPv4 = []string{"10.90.1"} }, `"10.90.1" is not an IPv4 address`},
		{func(r *Records) { r.Records[0].IPv6 = []string{"10.90.1.2"} }, `"10.90.1.2" is not an IPv6 address`},
		{func(r *Records) { r.Records[0].IPv6 = []string{"::ffff:10.90.1.2"} }, "is not an IPv6 address"},
		{func(r *Records) { r.Upstream = []string{"dns.example.com"} }, `upstream server "dns.example.com": want IP or IP:PORT`},
		{func(r *Records) { r.Upstream = []string{"192.0.2.53:0"} }, "want IP or IP:PORT"},
		{func(r *Records) { r.Upstream = []string{"fe80::1%eth0"} }, "zoned"},
	} {
		r := ok()
		tc.change(&r)
		err := r.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want an error with %q", r, err, tc.want)
		}
	}
}

func TestWriteReadRecords(t *testing.T) {
	dir := t.TempDir()
	want := Records{
		Network:  "net1",
		Records:  []Record{{Name: "web", Aliases: []string{"db"}, IPv4: []string{"10.90.1.2"}, IPv6: []string{}}},
		Upstream: []string{"192.0.2.53"},
	}
	writeRecords(t, dir, want)
	got, err := ReadRecords(dir)
	if err != nil {
		t.Fatal(err)
	}
	want.Records[0].IPv6 = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReadRecords after WriteRecords(%+v) = %+v", want, got)
	}

	// A bad record is refused and leaves the file as it was, with no
	// temporary file behind.
	bad := want
	bad.Records = []Record{{Name: "web", IPv4: []string{"nope"}}}
	if err := WriteRecords(dir, bad); err == nil || !strings.Contains(err.Error(), `"nope" is not an IPv4 address`) {
		t.Errorf("WriteRecords(bad) = %v", err)
	}
	if got, err := ReadRecords(dir); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ReadRecords after a refused write = %+v, %v, want %+v", got, err, want)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("dir holds %v, want only %s", ents, RecordsFile)
	}

	// The format the engine and the server share, field by field.
	data := `{"network":"n","records":[{"name":"web","aliases":["db","3f2a1b9c0d1e"],"ipv4":["10.90.1.2"],"ipv6":[]}],"upstream":["192.0.2.53"],"later":1}`
	if err := os.WriteFile(filepath.Join(dir, RecordsFile), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err = ReadRecords(dir)
	if err != nil || got.Records[0].Aliases[1] != "3f2a1b9c0d1e" || got.Upstream[0] != "192.0.2.53" {
		t.Errorf("ReadRecords(%s) = %+v, %v", data, got, err)
	}
	for _, data := range []string{`{"records":[{"name":"a b"}]}`, `{"records":[]} {}`, `[`} {
		os.WriteFile(filepath.Join(dir, RecordsFile), []byte(data), 0o644)
		if _, err := ReadRecords(dir); err == nil || !strings.Contains(err.Error(), RecordsFile) {
			t.Errorf("ReadRecords(%s) = %v, want an error naming %s", data, err, RecordsFile)
		}
	}
}

func TestLookup(t *testing.T) {
	tbl := newTable(Records{
		Network: "Net",
		Records: []Record{
			{Name: "a", Aliases: []string{"shared"}, IPv4: []string{"10.0.0.2"}},
			{Name: "b", Aliases: []string{"SHARED"}, IPv4: []string{"10.0.0.3", "10.0.0.2"}},
		},
	})
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"a", []string{"10.0.0.2"}},
		{"A.", []string{"10.0.0.2"}},
		{"a.net", []string{"10.0.0.2"}},
		{"a.NET.", []string{"10.0.0.2"}},
		{"shared", []string{"10.0.0.2", "10.0.0.3"}},
		{"b", []string{"10.0.0.3", "10.0.0.2"}},
		{"net", nil},
		{"a.other", nil},
		{"c", nil},
	} {
		var got []string
		if e := tbl.lookup(tc.name); e != nil {
			for _, a := range e.v4 {
				got = append(got, a.String())
			}
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("lookup(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := tbl.ptr[netip.MustParseAddr("10.0.0.2")]; got != "a.net." {
		t.Errorf("PTR of 10.0.0.2 = %q, want the first record's a.net.", got)
	}
}

func TestAllowed(t *testing.T) {
	tbl := newTable(Records{Subnets: []string{"10.90.1.1/24", "fd00:90::/64"}})
	for _, tc := range []struct {
		src  string
		want bool
	}{
		{"10.90.1.2", true},
		{"10.90.1.1", true},
		{"fd00:90::5", true},
		{"127.0.0.1", true},
		{"::1", true},
		{"10.90.2.2", false},
		{"192.0.2.1", false},
		{"fd00:91::5", false},
	} {
		if got := tbl.allowed(netip.MustParseAddr(tc.src)); got != tc.want {
			t.Errorf("allowed(%s) = %v, want %v", tc.src, got, tc.want)
		}
	}
	if !newTable(Records{}).allowed(netip.MustParseAddr("192.0.2.1")) {
		t.Error("allowed(192.0.2.1) without subnets = false, want true")
	}
}

func TestReverseAddr(t *testing.T) {
	for _, tc := range []struct {
		name string
		want string // "" for not a reverse name
	}{
		{"2.1.90.10.in-addr.arpa.", "10.90.1.2"},
		{"2.1.90.10.IN-ADDR.ARPA", "10.90.1.2"},
		{"0.0.0.0.in-addr.arpa.", "0.0.0.0"},
		{mustReverse(t, "fd00:90::2"), "fd00:90::2"},
		{"1.90.10.in-addr.arpa.", ""},
		{"256.1.90.10.in-addr.arpa.", ""},
		{"02.1.90.10.in-addr.arpa.", ""},
		{"-1.1.90.10.in-addr.arpa.", ""},
		{"x.1.90.10.in-addr.arpa.", ""},
		{"10.in-addr.arpa.", ""},
		{"2.0.ip6.arpa.", ""},
		{"web.", ""},
	} {
		a, ok := reverseAddr(tc.name)
		got := ""
		if ok {
			got = a.String()
		}
		if got != tc.want {
			t.Errorf("reverseAddr(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// FuzzReverseAddr: query names are untrusted. Whatever reverseAddr
// accepts is exactly the reverse name of the address it returns.
func FuzzReverseAddr(f *testing.F) {
	for _, s := range []string{"2.1.90.10.in-addr.arpa.", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", "a.b.c.d.in-addr.arpa"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		a, ok := reverseAddr(name)
		if !ok {
			return
		}
		want, err := dns.ReverseAddr(a.String())
		if err != nil || want != strings.ToLower(strings.TrimSuffix(name, "."))+"." {
			t.Errorf("reverseAddr(%q) = %s, whose reverse name is %q", name, a, want)
		}
	})
}
