package engine

import (
	"os"
	"path/filepath"
	"strconv"

	"github.com/opencontainers/go-digest"

	"berth/internal/metadata"
	"berth/internal/volume"
)

// DiskUsage is one row of `system df`.
type DiskUsage struct {
	Type        string
	Total       int
	Active      int
	Size        int64
	Reclaimable int64
}

// DiskUsage accounts for the space under the root: unpacked image layers
// (each shared layer once), the blobs they came from, containers'
// writable layers, volumes, and logs.
func (e *Engine) DiskUsage() ([]DiskUsage, error) {
	list, err := e.List()
	if err != nil {
		return nil, err
	}
	usedImages := map[digest.Digest]bool{}
	usedChains := map[digest.Digest]bool{}
	ctr := DiskUsage{Type: "Containers", Total: len(list)}
	logs := DiskUsage{Type: "Logs", Total: len(list)}
	for _, s := range list {
		usedImages[s.Image] = true
		for _, c := range s.Chain {
			usedChains[c] = true
		}
		size := volume.DiskUsage(filepath.Join(e.dir(s.ID), "upper"))
		ctr.Size += size
		running := s.Status == StatusRunning || s.Status == StatusPaused || s.Status == StatusRestarting
		if running {
			ctr.Active++
			logs.Active++
		} else {
			ctr.Reclaimable += size
		}
		for i := 0; i < 100; i++ {
			p := e.LogPath(s.ID)
			if i > 0 {
				p += "." + strconv.Itoa(i)
			}
			fi, err := os.Stat(p)
			if err != nil {
				break
			}
			logs.Size += fi.Size()
			if !running {
				logs.Reclaimable += fi.Size()
			}
		}
	}
	imgs := DiskUsage{Type: "Images"}
	err = e.DB.View(func(tx *metadata.Tx) error {
		if err := tx.Images(func(img *metadata.Image) error {
			imgs.Total++
			if usedImages[img.ID] {
				imgs.Active++
			}
			return nil
		}); err != nil {
			return err
		}
		return tx.Snapshots(func(snap *metadata.Snapshot) error {
			imgs.Size += snap.Size
			if !usedChains[snap.Chain] {
				imgs.Reclaimable += snap.Size
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	vols, _, err := e.volumeUsage()
	if err != nil {
		return nil, err
	}
	blobs := DiskUsage{Type: "Image blobs"}
	e.Images.Content.Walk(func(_ digest.Digest, size int64) error {
		blobs.Total++
		blobs.Size += size
		return nil
	})
	bc, err := e.Images.BuildCache()
	if err != nil {
		return nil, err
	}
	cache := DiskUsage{Type: "Build Cache", Total: bc.Records, Size: bc.Size, Reclaimable: bc.Size - bc.Shared}
	return []DiskUsage{
		imgs, blobs, ctr,
		vols,
		cache,
		logs,
	}, nil
}
