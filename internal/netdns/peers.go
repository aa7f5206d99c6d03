package netdns

import (
	"net/netip"
	"os"
	"path/filepath"
	"sync"
)

// peers finds the names a client can see on its other networks. A
// container on several networks has the resolver of one of them as its
// nameserver, and Docker's resolver answers it with the names of all of
// them. Network directories are siblings (the engine keeps them side by
// side) and container names are unique, so the networks a client is on
// are those whose records name the container that has the client's
// address here.
type peers struct {
	parent string // the directory holding every network's directory
	own    string // this network's directory

	mu     sync.Mutex
	tables map[string]*peerTable // by network directory
}

type peerTable struct {
	key fileKey
	tbl *table
}

func newPeers(dir string) *peers {
	return &peers{parent: filepath.Dir(dir), own: filepath.Base(dir), tables: map[string]*peerTable{}}
}

// of returns the tables of the other networks that container name
// (lowercase) is on, reading each records file again only when it
// changed.
func (p *peers) of(name string) []*table {
	ents, err := os.ReadDir(p.parent)
	if err != nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := map[string]bool{}
	var out []*table
	for _, e := range ents {
		if !e.IsDir() || e.Name() == p.own {
			continue
		}
		seen[e.Name()] = true
		t := p.load(e.Name())
		if t != nil && t.members[name] {
			out = append(out, t)
		}
	}
	for dir := range p.tables {
		if !seen[dir] {
			delete(p.tables, dir)
		}
	}
	return out
}

// foreign returns the subnets of the other networks that container name
// (lowercase) is not on.
func (p *peers) foreign(name string) []netip.Prefix {
	ents, err := os.ReadDir(p.parent)
	if err != nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []netip.Prefix
	for _, e := range ents {
		if !e.IsDir() || e.Name() == p.own {
			continue
		}
		if t := p.load(e.Name()); t != nil && !t.members[name] {
			out = append(out, t.subnets...)
		}
	}
	return out
}

// load returns the table of network directory dir, nil when it has no
// records file that parses. Preconditions: p.mu is held.
func (p *peers) load(dir string) *table {
	path := filepath.Join(p.parent, dir, RecordsFile)
	key, err := statKey(path)
	if err != nil {
		delete(p.tables, dir)
		return nil
	}
	if pt := p.tables[dir]; pt != nil && pt.key == key {
		return pt.tbl
	}
	r, err := ReadRecords(filepath.Dir(path))
	pt := &peerTable{key: key}
	if err == nil {
		pt.tbl = newTable(r)
	}
	p.tables[dir] = pt
	return pt.tbl
}
