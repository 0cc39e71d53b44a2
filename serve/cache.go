package serve

import (
	"context"
	"sync"
	"time"

	"github.com/dogrun/dogrun/results"
)

// memo keeps values computed from the store under keys that name the
// version they were computed at, so a value is reused until the store
// changes. Requests for a key being computed wait for that computation
// instead of repeating it. Failures are not kept.
type memo struct {
	mu      sync.Mutex
	entries map[string]*memoEntry
	max     int
	clock   int64 // a counter: the most recently used entries survive
}

type memoEntry struct {
	ready chan struct{}
	val   any
	err   error
	used  int64
}

func newMemo(max int) *memo { return &memo{entries: map[string]*memoEntry{}, max: max} }

// cached returns the value under key, computing it with f the first time.
func cached[T any](m *memo, key string, f func() (T, error)) (T, error) {
	m.mu.Lock()
	m.clock++
	e, ok := m.entries[key]
	if ok {
		e.used = m.clock
		m.mu.Unlock()
		<-e.ready
	} else {
		e = &memoEntry{ready: make(chan struct{}), used: m.clock}
		m.entries[key] = e
		m.evict()
		m.mu.Unlock()
		e.val, e.err = f()
		close(e.ready)
		if e.err != nil {
			m.mu.Lock()
			if m.entries[key] == e {
				delete(m.entries, key)
			}
			m.mu.Unlock()
		}
	}
	v, _ := e.val.(T)
	return v, e.err
}

// evict drops the least recently used finished entries beyond max.
func (m *memo) evict() {
	for len(m.entries) > m.max {
		var oldest string
		var at int64
		for k, e := range m.entries {
			select {
			case <-e.ready:
			default:
				continue // being computed: someone waits for it
			}
			if oldest == "" || e.used < at {
				oldest, at = k, e.used
			}
		}
		if oldest == "" {
			return
		}
		delete(m.entries, oldest)
	}
}

// tracker keeps the store's versions (results.Versions) for at most poll,
// so that any number of pages and live streams cost the database one read
// of them per experiment per poll.
type tracker struct {
	st   *results.Store
	poll time.Duration
	mu   sync.Mutex
	last map[int64]*tracked
}

type tracked struct {
	mu sync.Mutex
	v  results.Versions
	at time.Time
}

func newTracker(st *results.Store, poll time.Duration) *tracker {
	return &tracker{st: st, poll: poll, last: map[int64]*tracked{}}
}

// get returns the versions of experiment id, or of the whole store for 0,
// read at most poll ago.
func (t *tracker) get(ctx context.Context, id int64) (results.Versions, error) {
	t.mu.Lock()
	e, ok := t.last[id]
	if !ok {
		e = &tracked{}
		t.last[id] = e
	}
	t.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.at.IsZero() && time.Since(e.at) < t.poll {
		return e.v, nil
	}
	var v results.Versions
	var err error
	if id == 0 {
		v, err = t.st.StoreVersions(ctx)
	} else {
		v, err = t.st.ExperimentVersions(ctx, id)
	}
	if err != nil {
		return results.Versions{}, err
	}
	e.v, e.at = v, time.Now()
	return v, nil
}
