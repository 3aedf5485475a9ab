// Package meshtest holds test fixtures shared by discovery's packages: a
// realistic two-service mesh as GetServiceInfo answers, and real gRPC
// targets on loopback that behave well (serving Ping, Discovery under both
// names, and Watch) or badly (hung, refusing, answering garbage, vanishing
// mid-scrape, re-deployed with a changed definition).
//
// Every helper hands out a plain host:port address, so a test written
// against these targets runs unchanged against a real kafmesh service.
package meshtest
