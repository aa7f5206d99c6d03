package reference

import (
	"regexp"
	"sync"
)

// The grammar is Docker's (github.com/distribution/reference), so that a
// name means the same thing to berth as to docker:
//
//	reference   := name [ ":" tag ] [ "@" digest ]
//	name        := [domain '/'] remote-name
//	domain      := host [':' port-number]
//	host        := domain-name | '[' IPv6address ']'
//	remote-name := path-component ['/' path-component]*
//	tag         := [\w][\w.-]{0,127}
//	digest      := algorithm ":" hex (at least 32 hex digits)
const (
	alphanumeric        = `[a-z0-9]+`
	separator           = `(?:[._]|__|[-]+)`
	domainNameComponent = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	ipv6address         = `\[(?:[a-fA-F0-9:]+)\]`
	optionalPort        = `(?::[0-9]+)?`
	tagPattern          = `[\w][\w.-]{0,127}`
	digestPattern       = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}`

	domainName    = domainNameComponent + `(?:\.` + domainNameComponent + `)*`
	host          = `(?:` + domainName + `|` + ipv6address + `)`
	domainAndPort = host + optionalPort
	pathComponent = alphanumeric + `(?:` + separator + alphanumeric + `)*`
	remoteName    = pathComponent + `(?:/` + pathComponent + `)*`
	namePattern   = `(?:` + domainAndPort + `/)?` + remoteName
)

var (
	referenceRegexp = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(` + namePattern + `)(?::(` + tagPattern + `))?(?:@(` + digestPattern + `))?$`)
	})
	nameRegexp = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?:(` + domainAndPort + `)/)?(` + remoteName + `)$`)
	})
)
