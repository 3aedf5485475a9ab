// Hand-written, although its name ends in .km.go: it has no generated-code
// header, so gen keeps it.
package details
