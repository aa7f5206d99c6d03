package image

import (
	"encoding/json"
	"sort"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"berth/internal/errdefs"
	"berth/internal/metadata"
	"berth/internal/reference"
)

// Summary is one image as `images` lists it.
type Summary struct {
	ID          digest.Digest
	RepoTags    []string // familiar names: "busybox:latest"
	RepoDigests []string
	Created     time.Time
	Size        int64
	Labels      map[string]string
	Stored      time.Time
}

// List returns every image, newest first.
func (s *Store) List() ([]Summary, error) {
	var out []Summary
	err := s.DB.View(func(tx *metadata.Tx) error {
		names := map[digest.Digest][]string{}
		err := tx.Names(func(n string, id digest.Digest) error {
			names[id] = append(names[id], familiar(n))
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Images(func(img *metadata.Image) error {
			cfg, err := s.Config(img)
			if err != nil {
				return err
			}
			sum := Summary{ID: img.ID, RepoTags: names[img.ID], Labels: cfg.Config.Labels, Stored: img.Stored}
			for _, rd := range img.RepoDigests {
				sum.RepoDigests = append(sum.RepoDigests, familiar(rd))
			}
			if cfg.Created != nil {
				sum.Created = *cfg.Created
			}
			sum.Size, err = chainSize(tx, img.Chain)
			out = append(out, sum)
			return err
		})
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, err
}

func chainSize(tx *metadata.Tx, chain []digest.Digest) (int64, error) {
	var n int64
	for _, c := range chain {
		snap, err := tx.Snapshot(c)
		if err != nil {
			return 0, err
		}
		n += snap.Size
	}
	return n, nil
}

// Config reads an image's config from the content store.
func (s *Store) Config(img *metadata.Image) (*ocispec.Image, error) {
	raw, err := s.Content.ReadAll(img.ID, maxConfig)
	if err != nil {
		return nil, err
	}
	return parseConfig(raw, img.ID)
}

// RawConfig is an image's config as stored.
func (s *Store) RawConfig(img *metadata.Image) ([]byte, error) {
	return s.Content.ReadAll(img.ID, maxConfig)
}

// Manifest reads an image's platform manifest.
func (s *Store) Manifest(img *metadata.Image) (*ocispec.Manifest, []byte, error) {
	raw, err := s.Content.ReadAll(img.Manifest.Digest, maxManifest)
	if err != nil {
		return nil, nil, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, nil, errdefs.Invalidf("manifest %s: %v", img.Manifest.Digest, err)
	}
	return &m, raw, nil
}

// Tag points name at the image src names.
func (s *Store) Tag(src, name string) error {
	ref, err := reference.Parse(name)
	if err != nil {
		return err
	}
	if ref.Digest() != "" {
		return errdefs.Invalidf("refusing to create a tag with a digest reference")
	}
	return s.DB.Update(func(tx *metadata.Tx) error {
		img, err := lookup(tx, src)
		if err != nil {
			return err
		}
		return tx.SetName(ref.String(), img.ID)
	})
}

// Names returns the familiar names of image id.
func (s *Store) Names(id digest.Digest) ([]string, error) {
	var out []string
	err := s.DB.View(func(tx *metadata.Tx) error {
		names, err := namesOf(tx, id)
		for _, n := range names {
			out = append(out, familiar(n))
		}
		return err
	})
	sort.Strings(out)
	return out, err
}

// HistoryEntry is one line of `history`.
type HistoryEntry struct {
	ID        string // the image ID on the top line, "<missing>" below, as Docker shows
	Created   time.Time
	CreatedBy string
	Size      int64
	Comment   string
}

// History lists the steps that made an image, newest first, with the
// size of the layer each step added.
func (s *Store) History(img *metadata.Image) ([]HistoryEntry, error) {
	cfg, err := s.Config(img)
	if err != nil {
		return nil, err
	}
	var sizes []int64
	err = s.DB.View(func(tx *metadata.Tx) error {
		for _, c := range img.Chain {
			snap, err := tx.Snapshot(c)
			if err != nil {
				return err
			}
			sizes = append(sizes, snap.Size)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	hist := cfg.History
	if len(hist) == 0 {
		// No history: one line per layer, as Docker shows it.
		for range sizes {
			hist = append(hist, ocispec.History{})
		}
	}
	var out []HistoryEntry
	layer := 0
	for _, h := range hist {
		e := HistoryEntry{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment}
		if h.Created != nil {
			e.Created = *h.Created
		}
		if !h.EmptyLayer && layer < len(sizes) {
			e.Size = sizes[layer]
			layer++
		}
		out = append(out, e)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	if len(out) > 0 {
		out[0].ID = img.ID.String()
	}
	return out, nil
}
