package runner

import (
	"os"
	"strings"

	"go.opentelemetry.io/otel"
)

// setupTracing picks the service's tracer. Tracing is on when
//   - WithTracerProvider gave a provider: the service uses it; or
//   - the standard OTEL_* environment asks for traces (OTEL_TRACES_EXPORTER
//     set to anything but "none", or OTEL_EXPORTER_OTLP_ENDPOINT or
//     OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set) and OTEL_SDK_DISABLED is not
//     "true": the service uses the process's global provider
//     (otel.SetTracerProvider), which the program installs, e.g. with the
//     OTLP exporter that reads the same variables.
//
// Otherwise the tracer stays nil and records pay one nil check.
func (s *Service) setupTracing() {
	if tp := s.cfg.tracerProvider; tp != nil {
		s.obs.tracer, s.obs.tracerProvider = tp.Tracer(tracerName), tp
		return
	}
	if tracingFromEnv(os.Getenv) {
		s.obs.tracerProvider = otel.GetTracerProvider()
		s.obs.tracer = s.obs.tracerProvider.Tracer(tracerName)
	}
}

// tracingFromEnv reports whether the OTEL_* variables ask for traces.
func tracingFromEnv(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	switch exp := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); {
	case strings.EqualFold(exp, "none"):
		return false
	case exp != "":
		return true
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}
