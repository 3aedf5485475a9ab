// Package release holds the tests of kafmesh as users receive it: the module
// installed from a version served by a module proxy (install_test.go), and
// the importable surface the module promises (surface_test.go). It has no
// code of its own.
package release
