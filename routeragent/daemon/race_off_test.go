//go:build !race

package daemon

// raceBuild says the tests run under the race detector, whose shadow
// memory makes the process's RSS no measure of the daemon's own.
const raceBuild = false
