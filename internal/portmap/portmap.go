// Package portmap publishes container ports on the host: it reads
// Docker's -p, -P and --expose forms, picks free host ports, and makes
// the kernel forward the traffic with nftables DNAT rules (iptables ones
// where nftables cannot be used), so that no userland proxy copies the
// bytes; the host's own TCP connections to them are connected straight to
// the container by a BPF program instead (shortcut_linux.go), as the
// rules would route them through lo. The rules are berth's record of which
// host ports it holds: each carries the container's ID and binding in its
// comment, so a later command, or the cleanup after a killed monitor,
// finds them without any other state.
package portmap

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"berth/internal/errdefs"
)

// Binding is one container port published on the host.
type Binding struct {
	// HostIP is the host address to listen on; empty means every
	// address, IPv4 and IPv6.
	HostIP string `json:"hostIp,omitempty"`
	// HostPort is the host port; 0 lets berth pick a free one. With
	// HostPortEnd above it, berth picks a free one in that range.
	HostPort    uint16 `json:"hostPort,omitempty"`
	HostPortEnd uint16 `json:"hostPortEnd,omitempty"`
	// ContainerPort and Proto (tcp, udp or sctp) are the container's side.
	ContainerPort uint16 `json:"containerPort"`
	Proto         string `json:"proto"`
}

// Port is the container side as Docker names it: "80/tcp".
func (b Binding) Port() string { return fmt.Sprintf("%d/%s", b.ContainerPort, b.Proto) }

// HostPortSpec is the host port as Docker's PortBindings show it: "",
// "8080" or "8000-8010".
func (b Binding) HostPortSpec() string {
	switch {
	case b.HostPort == 0:
		return ""
	case b.HostPortEnd > b.HostPort:
		return fmt.Sprintf("%d-%d", b.HostPort, b.HostPortEnd)
	}
	return strconv.Itoa(int(b.HostPort))
}

// HostAddr is the host side of a published binding as Docker prints it:
// 0.0.0.0:8080, [::]:8080, 127.0.0.1:8080.
func (b Binding) HostAddr() string {
	return net.JoinHostPort(b.HostIP, strconv.Itoa(int(b.HostPort)))
}

// Parse reads one -p value: [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO],
// where each port may be a range. Equal ranges map one to one; a host
// range with a single container port is where berth picks one free
// port. The messages are Docker's.
func Parse(s string) ([]Binding, error) {
	ip, hostPort, containerPort := splitParts(s)
	containerPort, proto, _ := strings.Cut(containerPort, "/")
	if containerPort == "" {
		return nil, errdefs.Invalidf("no port specified: %s<empty>", s)
	}
	proto = strings.ToLower(proto)
	if proto == "" {
		proto = "tcp"
	}
	if err := checkProto(proto); err != nil {
		return nil, err
	}
	if strings.HasPrefix(ip, "[") {
		raw, _, err := net.SplitHostPort(ip + ":")
		if err != nil {
			return nil, errdefs.Invalidf("invalid IP address %v: %v", ip, err)
		}
		ip = raw
	}
	if ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil || a.Zone() != "" {
			return nil, errdefs.Invalidf("invalid IP address: %s", ip)
		}
		ip = a.Unmap().String()
	}
	start, end, err := parseRange(containerPort)
	if err != nil || start == 0 {
		return nil, errdefs.Invalidf("invalid containerPort: %s", containerPort)
	}
	var hStart, hEnd uint16
	if hostPort != "" {
		if hStart, hEnd, err = parseRange(hostPort); err != nil {
			return nil, errdefs.Invalidf("invalid hostPort: %s", hostPort)
		}
		if end-start != hEnd-hStart && end != start {
			return nil, errdefs.Invalidf("invalid ranges specified for container and host Ports: %s and %s", containerPort, hostPort)
		}
		if hStart == 0 && hEnd != 0 {
			return nil, errdefs.Invalidf("invalid hostPort: %s", hostPort)
		}
	}
	var out []Binding
	for i := 0; i <= int(end-start); i++ {
		b := Binding{HostIP: ip, ContainerPort: start + uint16(i), Proto: proto}
		if hStart != 0 {
			b.HostPort = hStart + uint16(i)
			if start == end && hEnd > hStart {
				b.HostPortEnd = hEnd
			}
		}
		out = append(out, b)
	}
	return out, nil
}

// splitParts cuts IP:HOST:CONTAINER from the right, so that an IPv6
// address keeps its colons.
func splitParts(s string) (ip, host, ctr string) {
	parts := strings.Split(s, ":")
	switch n := len(parts); n {
	case 1:
		return "", "", parts[0]
	case 2:
		return "", parts[0], parts[1]
	default:
		return strings.Join(parts[:n-2], ":"), parts[n-2], parts[n-1]
	}
}

func checkProto(p string) error {
	switch p {
	case "tcp", "udp", "sctp":
		return nil
	}
	return errdefs.Invalidf("invalid proto: %s", p)
}

func parseRange(s string) (start, end uint16, err error) {
	if s == "" {
		return 0, 0, errors.New("empty string specified for ports")
	}
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return 0, 0, err
	}
	if !isRange {
		return uint16(a), uint16(a), nil
	}
	b, err := strconv.ParseUint(hi, 10, 16)
	if err != nil {
		return 0, 0, err
	}
	if b < a {
		return 0, 0, fmt.Errorf("invalid range specified for port: %s", s)
	}
	return uint16(a), uint16(b), nil
}

// ParseExpose reads an --expose value or an image's ExposedPorts key:
// PORT[-PORT][/PROTO]. It returns the ports as Docker names them, "80/tcp".
func ParseExpose(s string) ([]string, error) {
	port, proto, _ := strings.Cut(s, "/")
	proto = strings.ToLower(proto)
	if proto == "" {
		proto = "tcp"
	}
	if err := checkProto(proto); err != nil {
		return nil, err
	}
	start, end, err := parseRange(port)
	if err != nil || start == 0 {
		return nil, errdefs.Invalidf("invalid range format for --expose: %s, error: %v", s, rangeErr(err))
	}
	var out []string
	for p := int(start); p <= int(end); p++ {
		out = append(out, fmt.Sprintf("%d/%s", p, proto))
	}
	return out, nil
}

func rangeErr(err error) error {
	if err == nil {
		return errors.New("port 0 cannot be exposed")
	}
	return err
}

// PublishAll turns exposed ports ("80/tcp") into bindings to host ports
// that berth picks, for -P. Ports that bindings already publish are
// left to them.
func PublishAll(exposed []string, bindings []Binding) ([]Binding, error) {
	have := map[string]bool{}
	for _, b := range bindings {
		have[b.Port()] = true
	}
	out := append([]Binding(nil), bindings...)
	sort.Strings(exposed)
	for _, e := range exposed {
		if have[e] {
			continue
		}
		bs, err := Parse(e)
		if err != nil {
			return nil, err
		}
		have[e] = true
		out = append(out, bs...)
	}
	return out, nil
}

// Exposed is every container port that bindings publish and exposed
// names, sorted, without repeats: Docker's Config.ExposedPorts.
func Exposed(exposed []string, bindings []Binding) []string {
	set := map[string]bool{}
	for _, e := range exposed {
		set[e] = true
	}
	for _, b := range bindings {
		set[b.Port()] = true
	}
	var out []string
	for p := range set {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return portLess(out[i], out[j]) })
	return out
}

func portLess(a, b string) bool {
	pa, qa, _ := strings.Cut(a, "/")
	pb, qb, _ := strings.Cut(b, "/")
	na, _ := strconv.Atoi(pa)
	nb, _ := strconv.Atoi(pb)
	if na != nb {
		return na < nb
	}
	return qa < qb
}
