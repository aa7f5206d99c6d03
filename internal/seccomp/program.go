package seccomp

// A Program is a filter compiled to the classic BPF the kernel takes.
// Building a filter with libseccomp costs milliseconds for a profile as
// long as Docker's, and every container of an engine has the same one;
// so the engine compiles a profile once, keeps the program, and the
// container's init installs it with one seccomp(2) call.
type Program struct {
	// Code is the BPF instructions, 8 bytes each, in host byte order.
	Code []byte `json:"code"`
	// Flags are the seccomp(2) filter flags the spec asked for.
	Flags uint `json:"flags"`
}
