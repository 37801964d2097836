package sync

// State is where the player, or one of its tracks, stands.
type State int

const (
	// StateUnknown is the zero value; the engine never reports it.
	StateUnknown State = iota
	// StateOff is a track that is not subscribed; the player is never off.
	StateOff
	// StateOpening is a player or track being opened and probed, before its
	// first frame is ready.
	StateOpening
	// StatePlaying means the clock runs.
	StatePlaying
	// StatePaused means the user stopped the clock; the picture stays and
	// buffering stops once the target is met.
	StatePaused
	// StateBuffering means playing is wanted but the clock waits for data:
	// after a seek, while a track joins, or after a stall below the
	// low-water mark.
	StateBuffering
	// StateEnded means every subscribed track has played to its end.
	StateEnded
	// StateError means a track cannot be played (Track.Err says why); the
	// player reports it when every subscribed track failed.
	StateError
)

func (s State) String() string {
	switch s {
	case StateOff:
		return "off"
	case StateOpening:
		return "opening"
	case StatePlaying:
		return "playing"
	case StatePaused:
		return "paused"
	case StateBuffering:
		return "buffering"
	case StateEnded:
		return "ended"
	case StateError:
		return "error"
	default:
		return "unknown"
	}
}
