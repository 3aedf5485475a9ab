package runner

// setupTracing picks the service's tracer: from WithTracerProvider, else
// none (tracing off).
func (s *Service) setupTracing() {
	if tp := s.cfg.tracerProvider; tp != nil {
		s.obs.tracer = tp.Tracer(tracerName)
	}
}
