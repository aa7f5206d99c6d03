package build

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"berth/internal/archive"
	"berth/internal/errdefs"
)

// copySpec is a COPY or ADD.
type copySpec struct {
	instr    string // "COPY" or "ADD"
	srcs     []string
	contents []instructions.SourceContent
	dest     string
	from     string
	chown    string
	chmod    string
	checksum string
	add      bool
}

func (r *stageRunner) copy(c *instructions.CopyCommand, step Step) error {
	if c.Parents || len(c.ExcludePatterns) > 0 {
		return errdefs.Unsupportedf("--parents and --exclude are not supported")
	}
	return r.copyFiles(copySpec{instr: "COPY", srcs: c.SourcePaths, contents: c.SourceContents, dest: c.DestPath,
		from: c.From, chown: c.Chown, chmod: c.Chmod}, step)
}

func (r *stageRunner) add(c *instructions.AddCommand, step Step) error {
	if len(c.ExcludePatterns) > 0 {
		return errdefs.Unsupportedf("--exclude is not supported")
	}
	return r.copyFiles(copySpec{instr: "ADD", srcs: c.SourcePaths, contents: c.SourceContents, dest: c.DestPath,
		chown: c.Chown, chmod: c.Chmod, checksum: c.Checksum, add: true}, step)
}

func isURL(s string) bool { return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") }

// copyFiles runs a COPY or ADD: it resolves the sources, keys the step
// on their content, and copies them into a new layer.
func (r *stageRunner) copyFiles(c copySpec, step Step) error {
	var mode *uint32
	if c.chmod != "" {
		m, err := strconv.ParseUint(c.chmod, 8, 32)
		if err != nil || m > 0o7777 {
			return errdefs.Invalidf("--chmod=%s: not an octal mode", c.chmod)
		}
		m32 := uint32(m)
		mode = &m32
	}
	dest := c.dest
	if !path.IsAbs(dest) {
		dest = path.Join("/", r.st.cfg.Config.WorkingDir, dest)
	}
	destIsDir := strings.HasSuffix(c.dest, "/") || c.dest == "." || strings.HasSuffix(c.dest, "/.")

	// Where the sources come from: another stage or image, the context,
	// or files the step makes (heredocs, downloads).
	var srcDir string
	var skip func(string, bool) (bool, bool)
	withOwners := false
	fromKey := "context"
	var srcArgs []string
	switch {
	case len(c.contents) > 0 || (len(c.srcs) > 0 && c.add && allURLs(c.srcs)):
		tmp, names, err := r.stepFiles(c)
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		srcDir, srcArgs, fromKey = tmp, names, "inline"
	case c.from != "":
		l, key, err := r.sourceLayer(c.from)
		if err != nil {
			return err
		}
		defer r.bd.b.Discard(l)
		srcDir, srcArgs, fromKey, withOwners = l.Root(), c.srcs, key, true
	default:
		if r.bd.bctx == nil {
			return errdefs.Invalidf("the build has no context to copy from")
		}
		for _, s := range c.srcs {
			if isURL(s) {
				return errdefs.Invalidf("%s: a URL cannot be mixed with other sources", s)
			}
		}
		srcDir, srcArgs, skip = r.bd.bctx.Dir, c.srcs, r.bd.bctx.skip
	}
	src, err := openRoot(srcDir)
	if err != nil {
		return err
	}
	defer src.Close()
	srcs, err := resolveSources(src, srcArgs, skip)
	if err != nil {
		return err
	}
	if (len(srcs) > 1 || len(c.srcs) > 1) && !destIsDir {
		return errdefs.Invalidf("When using %s with more than one source file, the destination must be a directory and end with a /", c.instr)
	}
	h := sha256.New()
	if err := hashSources(h, src, srcs, skip, withOwners); err != nil {
		return err
	}
	words := []string{c.instr}
	for _, f := range [][2]string{{"--from=", c.from}, {"--chown=", c.chown}, {"--chmod=", c.chmod}, {"--checksum=", c.checksum}} {
		if f[1] != "" {
			words = append(words, f[0]+f[1])
		}
	}
	for _, sc := range c.contents {
		words = append(words, "<<"+sc.Path)
	}
	createdBy := strings.Join(append(append(words, c.srcs...), c.dest), " ")
	key := stepKey(r.st.key, c.instr, c.chown, c.chmod, jsonString(srcArgs), c.dest, dest, fromKey, hex.EncodeToString(h.Sum(nil)))
	return r.fsStep(key, createdBy, step, func(l Layer) ([]string, error) {
		dst, err := openRoot(l.Root())
		if err != nil {
			return nil, err
		}
		defer dst.Close()
		o := &copyOpts{uid: -1, gid: -1, mode: mode, skip: skip}
		if !withOwners {
			o.uid, o.gid = 0, 0
		}
		if c.chown != "" {
			if o.uid, o.gid, err = chownIDs(dst, c.chown); err != nil {
				return nil, err
			}
		}
		for _, s := range srcs {
			if err := copySource(r, src, s, dst, dest, destIsDir || len(srcs) > 1, c.add && fromKey == "context", o); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
}

func allURLs(srcs []string) bool {
	for _, s := range srcs {
		if !isURL(s) {
			return false
		}
	}
	return true
}

// copySource copies one source into dst at dest, as Docker does: a
// directory's contents go into dest; a file goes into dest when dest is
// a directory, else becomes dest; ADD unpacks a local tar archive into
// dest.
func copySource(r *stageRunner, src *fsRoot, s source, dst *fsRoot, dest string, destIsDir, unpack bool, o *copyOpts) error {
	dirUID, dirGID := max(o.uid, 0), max(o.gid, 0)
	if src.isDir(s.rel) {
		sfd, err := src.open(s.rel, unix.O_RDONLY|unix.O_DIRECTORY)
		if err != nil {
			return err
		}
		sf := os.NewFile(uintptr(sfd), s.rel)
		defer sf.Close()
		dfd, err := dst.mkdirAll(dest, dirUID, dirGID)
		if err != nil {
			return err
		}
		defer closeFD(dfd)
		names, err := sf.Readdirnames(-1)
		if err != nil {
			return err
		}
		slices.Sort(names)
		for _, n := range names {
			childRel := path.Join(s.rel, n)
			if o.skip != nil {
				var st unix.Stat_t
				isDir := unix.Fstatat(sfd, n, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
				if sk, descend := o.skip(childRel, isDir); sk && !descend {
					continue
				}
			}
			if err := copyEntry(sfd, n, dfd, n, childRel, o); err != nil {
				return err
			}
		}
		return nil
	}
	if unpack {
		if ok, err := unpackArchive(r, src, s, dst, dest, dirUID, dirGID); ok || err != nil {
			return err
		}
	}
	// The source's own symlinks are followed, inside its root.
	realRel, err := src.resolve(s.rel)
	if err != nil {
		return err
	}
	sdir, err := src.open(path.Dir("/"+realRel), unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer closeFD(sdir)
	target := dest
	if destIsDir || dst.isDir(dest) {
		target = path.Join(dest, path.Base("/"+s.rel))
	}
	dfd, err := dst.mkdirAll(path.Dir(target), dirUID, dirGID)
	if err != nil {
		return err
	}
	defer closeFD(dfd)
	return copyEntry(sdir, path.Base("/"+realRel), dfd, path.Base(target), s.rel, o)
}

// resolve is p with every symlink followed inside the root, relative
// to the root.
func (r *fsRoot) resolve(p string) (string, error) {
	fd, err := r.open(p, unix.O_PATH)
	if err != nil {
		return "", err
	}
	defer closeFD(fd)
	real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "", err
	}
	top, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(r.fd))
	if err != nil {
		return "", err
	}
	if real == top {
		return "", nil
	}
	if !strings.HasPrefix(real, strings.TrimSuffix(top, "/")+"/") {
		return "", errdefs.Invalidf("%s: resolves outside its root", p)
	}
	return strings.TrimPrefix(real, strings.TrimSuffix(top, "/")+"/"), nil
}

// unpackArchive unpacks s into dest when it is a tar (plain, gzip or
// zstd); ok is false when it is not one.
func unpackArchive(r *stageRunner, src *fsRoot, s source, dst *fsRoot, dest string, uid, gid int) (bool, error) {
	fd, err := src.open(s.rel, unix.O_RDONLY)
	if err != nil {
		return false, err
	}
	f := os.NewFile(uintptr(fd), s.rel)
	defer f.Close()
	dec, _, err := archive.Decompress(bufio.NewReader(f))
	if err != nil {
		return false, nil
	}
	br := bufio.NewReaderSize(dec, 1024)
	head, _ := br.Peek(512)
	if len(head) < 512 || string(head[257:262]) != "ustar" {
		dec.Close()
		return false, nil
	}
	defer dec.Close()
	dfd, err := dst.mkdirAll(dest, uid, gid)
	if err != nil {
		return true, err
	}
	defer closeFD(dfd)
	_, err = archive.Apply(r.bd.ctx, "/proc/self/fd/"+strconv.Itoa(dfd), br, archive.Limits{})
	if err != nil {
		return true, fmt.Errorf("unpack %s: %w", s.rel, err)
	}
	return true, nil
}

// stepFiles writes the files a step makes itself, heredocs or ADD's
// downloads, into a temporary directory, and returns their names.
func (r *stageRunner) stepFiles(c copySpec) (string, []string, error) {
	tmp, err := os.MkdirTemp("", "berth-build-")
	if err != nil {
		return "", nil, err
	}
	var names []string
	for _, sc := range c.contents {
		name := path.Base("/" + sc.Path)
		if err := os.WriteFile(tmp+"/"+name, []byte(sc.Data), 0o644); err != nil {
			os.RemoveAll(tmp)
			return "", nil, err
		}
		names = append(names, name)
	}
	for _, u := range c.srcs {
		if !isURL(u) {
			continue
		}
		name, err := download(r, u, tmp, c.checksum)
		if err != nil {
			os.RemoveAll(tmp)
			return "", nil, err
		}
		names = append(names, name)
	}
	return tmp, names, nil
}

// maxDownload bounds what ADD fetches from a URL.
const maxDownload = 8 << 30

// download fetches ADD's URL into dir as a file of mode 0600, named
// after the URL's last path element, checking --checksum when given.
func download(r *stageRunner, rawURL, dir, checksum string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", errdefs.Invalidf("%s: %v", rawURL, err)
	}
	name := path.Base(u.Path)
	if name == "/" || name == "." || name == ".." || name == "" {
		name = "index.html"
	}
	ctx := r.bd.ctx
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", err
	}
	client := &http.Client{Timeout: 30 * time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("download %s: %s", rawURL, resp.Status)
	}
	f, err := os.OpenFile(dir+"/"+name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", err
	}
	d := digest.SHA256.Digester()
	n, err := io.Copy(io.MultiWriter(f, d.Hash()), io.LimitReader(resp.Body, maxDownload+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("download %s: %w", rawURL, err)
	}
	if n > maxDownload {
		return "", errdefs.Invalidf("download %s: larger than %d bytes", rawURL, int64(maxDownload))
	}
	if checksum != "" {
		want, err := digest.Parse(checksum)
		if err != nil {
			return "", errdefs.Invalidf("--checksum=%s: %v", checksum, err)
		}
		if want.Algorithm() != digest.SHA256 {
			return "", errdefs.Invalidf("--checksum=%s: only sha256 is supported", checksum)
		}
		if got := d.Digest(); got != want {
			return "", errdefs.Invalidf("%s: checksum mismatch: expected %s, got %s", rawURL, want, got)
		}
	}
	return name, nil
}

// sourceLayer mounts the stage or image that COPY --from or RUN --mount
// from= reads, and returns it with a key for what it holds.
func (r *stageRunner) sourceLayer(from string) (Layer, string, error) {
	bd := r.bd
	name, err := bd.expandGlobal(from)
	if err != nil {
		return nil, "", errdefs.Invalidf("--from=%s: %v", from, err)
	}
	var chain []digest.Digest
	var key string
	if i, ok := bd.stageIndex(name); ok && i < r.index {
		st, err := bd.waitStage(i)
		if err != nil {
			return nil, "", err
		}
		chain, key = st.chain, "stage "+st.key
	} else if ok {
		return nil, "", errdefs.Invalidf("--from=%s: a stage can only read earlier stages", from)
	} else {
		img, err := bd.image(name)
		if err != nil {
			return nil, "", err
		}
		chain, key = img.Chain, "image "+img.ID.String()
	}
	l, err := bd.b.Prepare(chain)
	return l, key, err
}
