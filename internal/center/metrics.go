package center

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wirewatch/wirewatch/internal/center/ingest"
)

// ingestCollector exposes the ingest stage's per-probe counters on the
// center's /metrics.
type ingestCollector struct{ s *ingest.Server }

var (
	ingestStreams = prometheus.NewDesc("wirewatch_center_ingest_streams", "Open probe report streams.", nil, nil)
	ingestBatches = prometheus.NewDesc("wirewatch_center_ingest_batches_total", "Batches stored, by probe.", []string{"probe"}, nil)
	ingestDups    = prometheus.NewDesc("wirewatch_center_ingest_duplicate_batches_total", "Batches received again after they were stored (acknowledged, not stored twice), by probe.", []string{"probe"}, nil)
	ingestRecords = prometheus.NewDesc("wirewatch_center_ingest_records_total", "Records in stored batches, by probe.", []string{"probe"}, nil)
	ingestBytes   = prometheus.NewDesc("wirewatch_center_ingest_bytes_total", "Protobuf bytes received, by probe.", []string{"probe"}, nil)
	ingestErrors  = prometheus.NewDesc("wirewatch_center_ingest_store_errors_total", "Batches the store failed to write (the probe resends), by probe.", []string{"probe"}, nil)
	ingestRefused = prometheus.NewDesc("wirewatch_center_ingest_refused_total", "Streams or batches refused, by probe and reason (auth, rate, size, decode, store).", []string{"probe", "reason"}, nil)
	ingestInvalid = prometheus.NewDesc("wirewatch_center_ingest_invalid_records_total", "Records left out of stored batches because they failed validation, by probe and reason (time, address, too_long, too_many, value).", []string{"probe", "reason"}, nil)
)

func (c ingestCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{ingestStreams, ingestBatches, ingestDups, ingestRecords, ingestBytes, ingestErrors, ingestRefused, ingestInvalid} {
		ch <- d
	}
}

func (c ingestCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	ch <- prometheus.MustNewConstMetric(ingestStreams, prometheus.GaugeValue, float64(st.Streams))
	for id, p := range st.Probes {
		ch <- prometheus.MustNewConstMetric(ingestBatches, prometheus.CounterValue, float64(p.Batches), id)
		ch <- prometheus.MustNewConstMetric(ingestDups, prometheus.CounterValue, float64(p.Duplicates), id)
		ch <- prometheus.MustNewConstMetric(ingestRecords, prometheus.CounterValue, float64(p.Records), id)
		ch <- prometheus.MustNewConstMetric(ingestBytes, prometheus.CounterValue, float64(p.Bytes), id)
		ch <- prometheus.MustNewConstMetric(ingestErrors, prometheus.CounterValue, float64(p.Errors), id)
		for reason, n := range p.Refused {
			ch <- prometheus.MustNewConstMetric(ingestRefused, prometheus.CounterValue, float64(n), id, reason)
		}
		for reason, n := range p.Invalid {
			ch <- prometheus.MustNewConstMetric(ingestInvalid, prometheus.CounterValue, float64(n), id, reason)
		}
	}
}
