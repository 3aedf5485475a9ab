package spec

// entry resolves a topic entry; it returns nil when the entry is unusable
// (reported).
func (r *resolver) entry(raw rawEntry, owner string) *Entry {
	return r.entryWithTopic(raw, owner, "")
}

// entryWithTopic resolves an entry whose topic is fixed (persistence) when
// topic is not empty.
func (r *resolver) entryWithTopic(raw rawEntry, owner, topic string) *Entry {
	noun := entryNoun(raw.role)
	if raw.message.Invalid || raw.keys.typo("message") {
		return nil
	}
	if !raw.message.Set || raw.message.Value == "" {
		r.errorf(raw.pos, "%s needs a message; add message: <package>.<message>, e.g. message: deviceId.heartbeat", noun)
		return nil
	}
	ref, problem := parseRef(raw.message.Value)
	if problem != "" {
		r.errorf(raw.message.Pos, "%s", problem)
		return nil
	}
	e := &Entry{
		Role:         raw.role,
		Ref:          raw.message.Value,
		Topic:        ref.fullName(r.svc.TopicPrefix),
		ProtoPackage: ref.protoPackage(r.svc.TopicPrefix),
		ProtoName:    ref.protoName(),
		GoName:       ref.goName(),
		Type:         r.svc.Defaults.Type,
		Description:  raw.description.Value,
		Pos:          raw.pos,
	}
	e.Message = e.ProtoPackage + "." + e.ProtoName
	if e.GoName == "" || e.GoName[0] < 'A' || e.GoName[0] > 'Z' {
		r.errorf(raw.message.Pos, "message ref %q cannot become a Go name (it gives %q); start every fragment with a letter", e.Ref, e.GoName)
		return nil
	}
	topicPos := raw.message.Pos
	switch {
	case topic != "":
		e.Topic = topic
	case raw.topic.Set:
		e.Topic = raw.topic.Value
		topicPos = raw.topic.Pos
	}
	if problem := topicProblem(e.Topic); problem != "" {
		r.errorf(topicPos, "topic %q is not a valid Kafka topic name: %s", e.Topic, problem)
		return nil
	}
	if raw.typ.Set {
		if t, ok := r.topicType(raw.typ); ok {
			e.Type = t
		}
	}
	r.where[e] = entryPlace{owner: owner, refPos: raw.message.Pos}
	r.use(e, raw)
	return e
}
