// Package compose runs Docker Compose projects on berth's engine. It
// loads compose files with the Compose Specification's own loader
// (compose-spec/compose-go), refuses at load time every field berth
// cannot honour, turns each service into the engine's create options,
// and converges the containers of a project on its model: in dependency
// order, waiting for the conditions depends_on names, leaving alone what
// has not changed (the config hash) and recreating what has.
//
// Containers carry the com.docker.compose.* labels Docker Compose
// writes, so that tools which read those labels see berth's projects as
// they see Docker's. The package sits above the engine, next to the
// command line: it decides the order of engine calls, the engine does
// each one.
package compose
