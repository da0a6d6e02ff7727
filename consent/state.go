package consent

// ChannelState is the current state of one channel, derived from the
// events; it is never stored or edited in place.
type ChannelState struct {
	State         State      `json:"state"`
	OptInLevel    OptInLevel `json:"opt_in_level,omitempty"`
	UpdatedAt     string     `json:"updated_at,omitempty"`
	NoticeVersion string     `json:"notice_version,omitempty"`
	GrantedAt     string     `json:"granted_at,omitempty"`
	// Blocked: the channel was closed because the contact matched the
	// blocking list of an earlier objection or erasure (§35(3) BDSG).
	Blocked bool `json:"blocked,omitempty"`
	// LastUsedAt is the newest recorded advertising use (§7a UWG).
	LastUsedAt string `json:"last_used_at,omitempty"`
	// Erased: the customer was erased; the channel is closed for good.
	Erased bool `json:"erased,omitempty"`
	// Representative is the relationship of the parent or guardian who
	// gave the consent for a child; "" when the customer gave it.
	Representative string `json:"representative,omitempty"`
	// Expired: a double opt-in was never confirmed. The customer asked
	// for e-mail once and did not confirm: no §7(3) UWG advertising
	// starts from that.
	Expired bool `json:"expired,omitempty"`
	// Declined: the customer was shown this cell and left it off, and has
	// not granted it since. No §7(3) UWG advertising rests on a cell the
	// customer refused (EDPB Guidelines 05/2020, §6).
	Declined bool `json:"declined,omitempty"`
}

// Derive folds a customer's events, oldest first, into the state of each
// channel and purpose for offers: what every consent meant before topics
// existed, and what advertising mails need. Every channel is present; one
// without events is None.
func Derive(events []Event) map[Channel]ChannelState {
	return DeriveTopic(events, TopicOffers)
}

// EventTopic is the topic an event counts for: "" (before topics) is
// offers.
func EventTopic(e Event) string {
	if e.Topic == "" {
		return TopicOffers
	}
	return e.Topic
}

// DeriveTopic is the state of each channel for one topic: the events of
// that topic and those for every topic (AllTopics). A use of any topic
// counts as the channel's last use (§7a UWG), and the prescription
// consent is the same for every topic.
func DeriveTopic(events []Event, topic string) map[Channel]ChannelState {
	states := make(map[Channel]ChannelState, len(Channels)+1)
	for _, c := range append(Channels, HealthData) {
		states[c] = ChannelState{State: None}
	}
	for _, e := range events {
		if e.Action == Merge {
			continue // the customer's, no channel's
		}
		if t := EventTopic(e); t == topic || t == AllTopics || e.Channel == HealthData || e.Action == Use {
			states[e.Channel] = apply(states[e.Channel], e)
		}
	}
	return states
}

// DeriveTopics is the state of each channel for each topic.
func DeriveTopics(events []Event, topics []string) map[Channel]map[string]ChannelState {
	out := make(map[Channel]map[string]ChannelState, len(Channels))
	for _, c := range Channels {
		out[c] = make(map[string]ChannelState, len(topics))
	}
	for _, t := range topics {
		for c, st := range DeriveTopic(events, t) {
			if c != HealthData {
				out[c][t] = st
			}
		}
	}
	return out
}

func apply(s ChannelState, e Event) ChannelState {
	switch e.Action {
	case Decline:
		s.Declined = true
		return s // asked and refused: no state changes
	case Grant:
		s.Declined = false
		s.OptInLevel = e.OptInLevel
		if s.OptInLevel == "" {
			s.OptInLevel = SingleOptIn
		}
		s.State = Granted
		s.GrantedAt = e.CreatedAt
		s.Blocked = false
		s.Expired = false
		s.Representative = e.RepresentativeOf
		if s.OptInLevel == ConfirmedOptIn {
			// E-mail consent given at the counter waits for the
			// customer's confirmation (BGH I ZR 164/09).
			s.State = Pending
			s.GrantedAt = ""
		}
		s.NoticeVersion = e.NoticeVersionID
	case Confirm:
		if s.State != Pending {
			return s // a stale or repeated confirmation changes nothing
		}
		s.State = Granted
		s.GrantedAt = e.CreatedAt
	case Withdraw:
		if s.State == None {
			// An objection without a prior grant still counts: it is
			// recorded so that nobody contacts the customer later.
			s.OptInLevel = ""
		}
		s.State = Withdrawn
		s.GrantedAt = ""
		s.Blocked = e.Source == FromBlockList
	case Unblock:
		s.Blocked = false
	case Close:
		if s.State != Granted && s.State != Pending {
			return s
		}
		s.State, s.OptInLevel, s.NoticeVersion, s.GrantedAt, s.Representative = None, "", "", "", ""
	case Use:
		s.LastUsedAt = e.CreatedAt
		return s
	case Erase:
		s.State = Withdrawn
		s.GrantedAt = ""
		s.Erased = true
	case Expire:
		if s.State != Pending {
			return s
		}
		s.State = None
		s.OptInLevel = ""
		s.NoticeVersion = ""
		s.Expired = true
	default:
		return s
	}
	s.UpdatedAt = e.CreatedAt
	return s
}

// EventTopics are the known topics, in their order, then offers where
// known lacks it, then any other topic the customer's events name ("*" is
// none of them: it covers them all).
func EventTopics(events []Event, known []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range append(append([]string{}, known...), TopicOffers) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, e := range events {
		if t := EventTopic(e); t != AllTopics && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// Summary is a channel's state over all its topics: Granted when any
// topic is granted, else Pending when any waits for its confirmation,
// else Withdrawn when any was withdrawn, else None.
func Summary(byTopic map[string]ChannelState) ChannelState {
	best := ChannelState{State: None}
	rank := map[State]int{None: 0, Withdrawn: 1, Pending: 2, Granted: 3}
	for _, st := range byTopic {
		if rank[st.State] > rank[best.State] {
			best = st
		}
	}
	return best
}
