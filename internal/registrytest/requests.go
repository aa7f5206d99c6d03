package registrytest

import (
	"regexp"
	"strconv"
)

// Request is one line of the registry's access log.
type Request struct {
	Method, Path string
	Status       int
}

// accessLine matches the request and status of an access log line in the
// combined log format: ... "GET /v2/ HTTP/1.1" 200 ...
var accessLine = regexp.MustCompile(`(?m)"([A-Z]+) (\S+) HTTP/[0-9.]+" ([0-9]{3}) `)

// Requests returns the requests that the registry has logged so far, in
// order. Paths keep their query strings. The registry logs a request when
// it has finished it: a client may read the start of a large response
// before its line is there, but not the end of a small one.
func (r *Registry) Requests() []Request {
	var reqs []Request
	for _, m := range accessLine.FindAllStringSubmatch(r.Logs(), -1) {
		status, _ := strconv.Atoi(m[3])
		reqs = append(reqs, Request{Method: m[1], Path: m[2], Status: status})
	}
	return reqs
}
