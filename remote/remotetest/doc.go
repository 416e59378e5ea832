// Package remotetest serves a local directory over SFTP in process
// (pkg/sftp's server, on pipes), for the tests of packages that use
// remote: they get a real remote.Client without SSH and without
// importing pkg/sftp themselves.
package remotetest
