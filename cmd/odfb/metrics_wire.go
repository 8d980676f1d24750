package main

import (
	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/internal/metrics"
)

// snapshotOf turns the cache's status into the metrics' view of it.
func snapshotOf(st cache.Status) metrics.Snapshot {
	s := metrics.Snapshot{
		LostFound:      int64(len(st.LostFound)),
		ConflictCopies: int64(len(st.Conflicts)),
		ContentBytes:   st.ContentBytes,
		StagingBytes:   st.StagingBytes,
		AuthFailing:    st.AuthError != "",
		Offline:        st.Offline,
	}
	for _, q := range st.Queue {
		if q.Open && q.Queued.IsZero() {
			continue // being written, not yet handed to the uploader
		}
		s.QueueFiles++
		s.QueueBytes += q.Size
		if q.LastError != "" {
			s.FailingUploads++
		}
	}
	return s
}
