package build

import (
	"fmt"

	"berth/internal/metadata"
)

// fsStep runs a step that changes the filesystem: from the cache when
// its key is recorded, else by do in a new writable layer, whose
// changes become the step's layer and are recorded under key. do
// returns the mount points it made that the layer must leave out.
func (r *stageRunner) fsStep(key, createdBy string, step Step, do func(l Layer) ([]string, error)) error {
	bd := r.bd
	if rec, ok := bd.lookupCache(key); ok {
		empty := len(rec.Layers) == len(r.st.layers)
		r.st.layers, r.st.chain, r.st.key = rec.Layers, rec.Chain, key
		r.st.cfg.addHistory(createdBy, empty, bd.opts.Epoch)
		step.Cached()
		return nil
	}
	l, err := bd.b.Prepare(r.st.chain)
	if err != nil {
		return err
	}
	hidden, err := do(l)
	if err == nil {
		err = bd.ctx.Err()
	}
	if err != nil {
		bd.b.Discard(l)
		return err
	}
	layer, chain, size, changed, err := bd.b.Commit(bd.ctx, l, r.st.top(), hidden, bd.opts.Epoch.Unix())
	if err != nil {
		return fmt.Errorf("commit the step's layer: %w", err)
	}
	if changed {
		r.st.layers = append(r.st.layers, layer)
		r.st.chain = append(r.st.chain, chain)
	}
	r.st.key = key
	r.st.cfg.addHistory(createdBy, !changed, bd.opts.Epoch)
	return bd.record(&metadata.BuildStep{Key: key, Layers: r.st.layers, Chain: r.st.chain, Size: size})
}

// workdir makes the working directory, as Docker's WORKDIR does, in a
// layer of its own when it was missing.
func (r *stageRunner) workdir(step Step) error {
	dir := r.st.cfg.Config.WorkingDir
	createdBy := "WORKDIR " + dir
	return r.fsStep(stepKey(r.st.key, createdBy), createdBy, step, func(l Layer) ([]string, error) {
		root, err := openRoot(l.Root())
		if err != nil {
			return nil, err
		}
		defer root.Close()
		fd, err := root.mkdirAll(dir, 0, 0)
		if err != nil {
			return nil, err
		}
		closeFD(fd)
		return nil, nil
	})
}
