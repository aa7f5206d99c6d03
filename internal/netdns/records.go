package netdns

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// RecordsFile is the name of the records file in a network's directory.
const RecordsFile = "records.json"

// maxRecordsSize bounds what a server reads: a thousand containers with a
// few aliases each take well under a megabyte.
const maxRecordsSize = 16 << 20

// Records is what a network's resolver knows: records.json in the
// network's directory. The engine writes it with WriteRecords each time a
// container joins or leaves the network; the server reads it again when it
// changes.
type Records struct {
	// Network is the network's name. When set, NAME.NETWORK resolves as
	// NAME does, and PTR answers are NAME.NETWORK.
	Network string `json:"network,omitempty"`
	// Subnets are the network's subnets. When set, the server answers
	// only queries that come from an address inside one of them and
	// refuses the rest, so that a container on another network, or a
	// host elsewhere, cannot read this network's names or use it as an
	// open resolver.
	Subnets []string `json:"subnets,omitempty"`
	// Records are the containers on the network.
	Records []Record `json:"records"`
	// Upstream are the servers that every other query is forwarded to,
	// in order: "IP" (port 53) or "IP:PORT" ("[IPv6]:PORT").
	Upstream []string `json:"upstream"`
}

// Record is one container on the network: its name, its aliases (network
// aliases, its short ID) and its addresses. Several records may share an
// alias; a query for it is answered with all their addresses.
type Record struct {
	Name    string   `json:"name"`
	Aliases []string `json:"aliases,omitempty"`
	IPv4    []string `json:"ipv4,omitempty"`
	IPv6    []string `json:"ipv6,omitempty"`
	// Upstream, when set, are the servers that this container's
	// queries for other names are forwarded to, instead of the
	// network's (the container's --dns servers, as Docker's resolver
	// uses them), in the same forms.
	Upstream []string `json:"upstream,omitempty"`
}

// Validate checks every field, so that the engine learns of a bad record
// when it writes it, not when a container's lookup fails.
func (r *Records) Validate() error {
	if r.Network != "" {
		if err := CheckName(r.Network); err != nil {
			return fmt.Errorf("network %w", err)
		}
	}
	for _, s := range r.Subnets {
		if _, err := netip.ParsePrefix(s); err != nil {
			return fmt.Errorf("subnet %q: %w", s, err)
		}
	}
	for i, rec := range r.Records {
		if rec.Name == "" {
			return fmt.Errorf("record %d: no name", i)
		}
		for _, n := range append([]string{rec.Name}, rec.Aliases...) {
			if err := CheckName(n); err != nil {
				return fmt.Errorf("record %q: %w", rec.Name, err)
			}
		}
		for _, a := range rec.IPv4 {
			if ip, err := netip.ParseAddr(a); err != nil || !ip.Is4() {
				return fmt.Errorf("record %q: %q is not an IPv4 address", rec.Name, a)
			}
		}
		for _, a := range rec.IPv6 {
			if ip, err := netip.ParseAddr(a); err != nil || !ip.Is6() || ip.Is4In6() {
				return fmt.Errorf("record %q: %q is not an IPv6 address", rec.Name, a)
			}
		}
		for _, u := range rec.Upstream {
			if _, err := ParseUpstream(u); err != nil {
				return fmt.Errorf("record %q: %w", rec.Name, err)
			}
		}
	}
	for _, u := range r.Upstream {
		if _, err := ParseUpstream(u); err != nil {
			return err
		}
	}
	return nil
}

// CheckName says whether a container name or alias can be served as a DNS
// name: dot-separated labels of letters, digits, '-' and '_' (which
// Docker's names allow), each 1 to 63 bytes long, 253 bytes in all.
func CheckName(n string) error {
	if len(n) > 253 {
		return fmt.Errorf("name %q is longer than 253 bytes", n)
	}
	for _, label := range strings.Split(n, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("name %q is not a DNS name: each dot-separated part must be 1 to 63 bytes", n)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("name %q is not a DNS name: %q is not a letter, digit, '-' or '_'", n, c)
			}
		}
	}
	return nil
}

// ParseUpstream parses an upstream server, "IP" or "IP:PORT", into the
// address queries go to.
func ParseUpstream(s string) (netip.AddrPort, error) {
	if ip, err := netip.ParseAddr(s); err == nil {
		if ip.Zone() != "" {
			return netip.AddrPort{}, fmt.Errorf("upstream server %q: zoned addresses are not supported", s)
		}
		return netip.AddrPortFrom(ip.Unmap(), 53), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Port() == 0 || ap.Addr().Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("upstream server %q: want IP or IP:PORT", s)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// WriteRecords validates r and replaces dir/records.json with it
// atomically: a server reading at any instant sees the old file or the new
// one, whole.
func WriteRecords(dir string, r Records) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("dns records for %s: %w", dir, err)
	}
	if r.Records == nil {
		r.Records = []Record{}
	}
	if r.Upstream == nil {
		r.Upstream = []string{}
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".records-*.json")
	if err != nil {
		return fmt.Errorf("dns records: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, RecordsFile))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("dns records: %w", err)
	}
	return nil
}

// ReadRecords reads and validates dir/records.json.
func ReadRecords(dir string) (Records, error) {
	f, err := os.Open(filepath.Join(dir, RecordsFile))
	if err != nil {
		return Records{}, err
	}
	defer f.Close()
	return decodeRecords(f)
}

func decodeRecords(rd io.Reader) (Records, error) {
	data, err := io.ReadAll(io.LimitReader(rd, maxRecordsSize+1))
	if err != nil {
		return Records{}, err
	}
	if len(data) > maxRecordsSize {
		return Records{}, fmt.Errorf("%s: larger than %d bytes", RecordsFile, maxRecordsSize)
	}
	var r Records
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&r); err != nil {
		return Records{}, fmt.Errorf("%s: %w", RecordsFile, err)
	}
	if dec.More() {
		return Records{}, errors.New(RecordsFile + ": data after the JSON object")
	}
	if err := r.Validate(); err != nil {
		return Records{}, fmt.Errorf("%s: %w", RecordsFile, err)
	}
	return r, nil
}
