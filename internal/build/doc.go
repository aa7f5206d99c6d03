// Package build turns a Dockerfile and a build context into an image.
//
// The Dockerfile is read by BuildKit's parser and instruction package,
// and words are expanded by its shell lexer, so that a Dockerfile means
// here what it means to Docker. Each stage is a list of steps; a step
// that changes the filesystem (RUN, COPY, ADD) gets a layer, the others
// change the image config alone.
//
// Every step has a cache key: its parent's key, the instruction as
// expanded, the build args it sees and the content (bytes and mode, not
// timestamps) of the files it reads. A step whose key is recorded is not
// run again; its recorded layers are used. Timestamps in layers and the
// config come from one epoch, so that the same inputs give the same
// image digest.
//
// The package reaches containers, layers and images only through the
// Backend interface, which the engine implements.
package build
