// Package kafmesh2021test tests kafmesh against services of the 2021
// kafmesh (goka v1 on sarama) sharing their topics and consumer groups:
// the rolling deploy of a processor group from 2021 members to new ones.
//
// It is a module of its own so goka and sarama never enter kafmesh's
// go.mod. scripts/test.sh runs it; without KAFMESH_TEST_BROKERS (a real
// Kafka broker) its tests skip.
package kafmesh2021test
