package compose

import (
	"path"

	"berth/internal/engine"
	"berth/internal/volume"
)

// anonymousVolumes are the anonymous volumes of a container's recorded
// config, by their mount destination.
func anonymousVolumes(cfg *engine.Config) map[string]string {
	out := map[string]string{}
	if cfg == nil {
		return out
	}
	for _, m := range cfg.Binds {
		if m.Kind() == volume.TypeVolume && m.Anonymous && m.Name != "" {
			out[m.CleanDest()] = m.Name
		}
	}
	return out
}

// inheritVolumes gives a recreated container the anonymous volumes of the
// one it replaces (old, by destination), as Docker Compose does, so that
// a database's data directory outlives a change of its environment: the
// service's volumes without a source take the old volume at their path,
// and each of the image's VOLUME paths that no mount covers gets the old
// volume there. The volumes stay anonymous: rm -v and down -v remove them.
func inheritVolumes(o *engine.CreateOptions, imageVolumes map[string]struct{}, old map[string]string) {
	if len(old) == 0 {
		return
	}
	covered := map[string]bool{}
	for d := range o.Config.HostOptions.Tmpfs {
		covered[path.Clean(d)] = true
	}
	for i, b := range o.Config.Binds {
		covered[b.CleanDest()] = true
		if b.Kind() == volume.TypeVolume && b.Anonymous && b.Name == "" {
			o.Config.Binds[i].Name = old[b.CleanDest()]
		}
	}
	for _, d := range sortedKeys(imageVolumes) {
		d = path.Clean(d)
		if name := old[d]; name != "" && !covered[d] {
			covered[d] = true
			o.Config.Binds = append(o.Config.Binds, engine.Bind{Type: volume.TypeVolume, Name: name, Destination: d, Anonymous: true})
		}
	}
}
