package container

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// SpawnRequest is what a Spawner needs to start a container's init:
// Path executed with Args and Env in Dir, Files as its descriptors 3, 4,
// ... (its stdio are the spawner's), born with Cloneflags in the cgroup2
// directory CgroupDir, when not nil.
type SpawnRequest struct {
	Path       string
	Args, Env  []string
	Dir        string
	Files      []*os.File
	CgroupDir  *os.File
	Cloneflags uintptr
}

// A Spawner starts a container's init for create and returns its pid; the
// init is then the spawner's child, not the caller's.
type Spawner func(*SpawnRequest) (int, error)

// CanSpawn reports whether create can start s's init through a Spawner:
// one without a user namespace, which needs the parent to map its ids,
// and that joins no pid namespace, which needs a process between the
// parent and the init.
func CanSpawn(s *specs.Spec) bool {
	if s.Linux == nil {
		return false
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.UserNamespace || (ns.Type == specs.PIDNamespace && ns.Path != "") {
			return false
		}
	}
	return true
}

// spawnHead is the request's fixed part, as spawn.c reads it.
type spawnHead struct {
	Magic, Len uint32
	Flags      uint64
	Argc, Envc uint32
	Cgroup     int32
	Reserved   uint32
}

const spawnMagic = 0x68747262 // "brth"

// SpawnAgent is the caller's end of the socket to the spawn agent
// (spawn.c), the start command that a monitor runs when told the caller
// starts the container: Spawn has it start the init, and Verdict tells it
// how the start ended.
type SpawnAgent struct {
	conn *os.File
	r    *bufio.Reader
	// Monitor is the agent's parent, the container's monitor, once Spawn
	// has succeeded.
	Monitor int
}

// NewSpawnAgent talks to the agent on conn, a unix stream socket.
func NewSpawnAgent(conn *os.File) *SpawnAgent {
	return &SpawnAgent{conn: conn, r: bufio.NewReader(conn)}
}

// Spawn sends the agent req and returns the init's pid.
func (a *SpawnAgent) Spawn(req *SpawnRequest) (int, error) {
	var strs bytes.Buffer
	for _, s := range append(append([]string{req.Path, req.Dir}, req.Args...), req.Env...) {
		if strings.IndexByte(s, 0) >= 0 {
			return 0, fmt.Errorf("spawn: %q holds a NUL byte", s)
		}
		strs.WriteString(s)
		strs.WriteByte(0)
	}
	head := spawnHead{Magic: spawnMagic, Len: uint32(strs.Len()), Argc: uint32(len(req.Args)), Envc: uint32(len(req.Env)), Cgroup: -1, Flags: uint64(req.Cloneflags)}
	var fds []int
	for _, f := range req.Files {
		fds = append(fds, int(f.Fd()))
	}
	if req.CgroupDir != nil {
		head.Cgroup = int32(len(fds))
		fds = append(fds, int(req.CgroupDir.Fd()))
	}
	var msg bytes.Buffer
	binary.Write(&msg, binary.NativeEndian, &head)
	msg.Write(strs.Bytes())
	if err := unix.Sendmsg(int(a.conn.Fd()), msg.Bytes(), unix.UnixRights(fds...), nil, 0); err != nil {
		return 0, fmt.Errorf("spawn: send request: %w", err)
	}
	line, err := a.r.ReadString('\n')
	line = strings.TrimSuffix(line, "\n")
	if rest, ok := strings.CutPrefix(line, "pid "); ok {
		p, m, _ := strings.Cut(rest, " ")
		pid, err1 := strconv.Atoi(p)
		mon, err2 := strconv.Atoi(m)
		if err1 == nil && err2 == nil && pid > 0 && mon > 0 {
			a.Monitor = mon
			return pid, nil
		}
	}
	if rest, ok := strings.CutPrefix(line, "error "); ok {
		return 0, errors.New(rest)
	}
	if err == nil {
		err = fmt.Errorf("bad answer %q", line)
	}
	return 0, fmt.Errorf("spawn: %w", err)
}

// Verdict tells the agent that the container started (err nil), or why
// it did not, and closes the socket; the agent then ends, and the
// monitor goes on or gives up.
func (a *SpawnAgent) Verdict(err error) {
	line := "ok\n"
	if err != nil {
		line = "fail " + strings.ReplaceAll(err.Error(), "\n", " ") + "\n"
	}
	a.conn.Write([]byte(line))
	a.conn.Close()
}
