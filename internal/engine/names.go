package engine

import (
	"math/rand/v2"
	"regexp"
	"sync"

	"berth/internal/errdefs"
)

// validName is what Docker accepts as a container name.
var validName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`) })

func checkName(name string) error {
	if !validName().MatchString(name) {
		return errdefs.Invalidf("invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	return nil
}

var (
	adjectives = []string{"brave", "calm", "eager", "fond", "gentle", "happy", "jolly", "keen", "lucid", "merry",
		"nifty", "proud", "quiet", "sharp", "tender", "upbeat", "vivid", "witty", "zealous", "bold"}
	nouns = []string{"anchor", "buoy", "cove", "dock", "ferry", "galley", "harbor", "jetty", "keel", "lighthouse",
		"mooring", "pier", "quay", "rudder", "sail", "tide", "wharf", "yacht", "mast", "hull"}
)

// randomName is a name like Docker's "adjective_noun", with a number
// when the plain one is taken.
func randomName(taken func(string) bool) string {
	for i := 0; ; i++ {
		n := adjectives[rand.IntN(len(adjectives))] + "_" + nouns[rand.IntN(len(nouns))]
		if i > 10 {
			n += "_" + string(rune('0'+rand.IntN(10))) + string(rune('0'+rand.IntN(10)))
		}
		if !taken(n) {
			return n
		}
	}
}
