package neo4j

// Checks is how many times the store checked its constraints since Open;
// Ensured how many times it had to recreate them.
func (s *Store) Checks() int64  { return s.checks.Load() }
func (s *Store) Ensured() int64 { return s.ensured.Load() }
