package metadata

import (
	"path/filepath"
	"reflect"
	"testing"
)

func TestContainerIDs(t *testing.T) {
	db := Open(filepath.Join(t.TempDir(), "metadata.db"))
	err := db.Update(func(tx *Tx) error {
		for i, id := range []string{"abc1", "abc2", "abd", "b"} {
			if err := tx.PutContainer(&Container{ID: id, Name: "n" + string(rune('0'+i))}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.View(func(tx *Tx) error {
		for _, c := range []struct {
			prefix string
			max    int
			want   []string
		}{
			{"abc", 5, []string{"abc1", "abc2"}},
			{"ab", 2, []string{"abc1", "abc2"}},
			{"abd", 2, []string{"abd"}},
			{"b", 2, []string{"b"}},
			{"c", 2, nil},
			{"", 2, nil},
		} {
			if got := tx.ContainerIDs(c.prefix, c.max); !reflect.DeepEqual(got, c.want) {
				t.Errorf("ContainerIDs(%q, %d) = %v; want %v", c.prefix, c.max, got, c.want)
			}
		}
		return nil
	})
}
