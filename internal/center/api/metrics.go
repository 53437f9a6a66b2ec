package api

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// requestMetrics counts what the API itself did.
type requestMetrics struct {
	requests   *prometheus.CounterVec
	badWindows prometheus.Counter
	scrapeErrs prometheus.Counter
}

func newRequestMetrics() *requestMetrics {
	return &requestMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wirewatch_center_api_requests_total", Help: "API requests, by route and status code.",
		}, []string{"route", "code"}),
		badWindows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wirewatch_center_api_bad_windows_total", Help: "Stored summary windows that did not decode and were left out of a summary.",
		}),
		scrapeErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wirewatch_center_metrics_store_errors_total", Help: "Scrapes whose probe listing failed (probe metrics missing from that scrape).",
		}),
	}
}

func (m *requestMetrics) observe(route string, code int) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
}

func (m *requestMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.requests.Describe(ch)
	m.badWindows.Describe(ch)
	m.scrapeErrs.Describe(ch)
}

func (m *requestMetrics) Collect(ch chan<- prometheus.Metric) {
	m.requests.Collect(ch)
	m.badWindows.Collect(ch)
	m.scrapeErrs.Collect(ch)
}

var (
	descBuild       = prometheus.NewDesc("wirewatch_center_build_info", "The center's version (value 1).", []string{"version"}, nil)
	descBatches     = prometheus.NewDesc("wirewatch_center_store_batches_total", "Batches stored since the store opened.", nil, nil)
	descDuplicates  = prometheus.NewDesc("wirewatch_center_store_duplicates_total", "Batches received again and not stored twice.", nil, nil)
	descRows        = prometheus.NewDesc("wirewatch_center_store_rows_total", "Rows written, by table.", []string{"table"}, nil)
	descWriteErrors = prometheus.NewDesc("wirewatch_center_store_write_errors_total", "Batches the store failed to write.", nil, nil)
	descRetained    = prometheus.NewDesc("wirewatch_center_store_retention_removed_rows_total", "Rows removed by retention, by table.", []string{"table"}, nil)
	descDisk        = prometheus.NewDesc("wirewatch_center_store_bytes_on_disk", "Bytes the store takes on disk.", nil, nil)
	descProbes      = prometheus.NewDesc("wirewatch_center_probes", "Probes known to the center, by health.", []string{"health"}, nil)
	descLastReport  = prometheus.NewDesc("wirewatch_center_probe_last_report_timestamp_seconds", "When each probe last reported (center clock).", []string{"probe"}, nil)
	descProbeLoss   = prometheus.NewDesc("wirewatch_center_probe_loss_total", "Each probe's loss counters as of its last report, by cause.", []string{"probe", "cause"}, nil)
	descLastSeq     = prometheus.NewDesc("wirewatch_center_probe_last_seq", "Sequence number of each probe's last stored batch.", []string{"probe"}, nil)
)

// storeCollector reads the store's counters and the probes' status at
// scrape time.
type storeCollector struct {
	a       *API
	version string
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBuild, descBatches, descDuplicates, descRows, descWriteErrors, descRetained, descDisk,
		descProbes, descLastReport, descProbeLoss, descLastSeq} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	version := c.version
	if version == "" {
		version = "dev"
	}
	ch <- prometheus.MustNewConstMetric(descBuild, prometheus.GaugeValue, 1, version)
	st := c.a.store.Stats()
	counter(descBatches, st.Batches)
	counter(descDuplicates, st.Duplicates)
	counter(descWriteErrors, st.WriteErrors)
	for t, v := range st.Rows {
		counter(descRows, v, t)
	}
	for t, v := range st.RetainedRows {
		counter(descRetained, v, t)
	}
	ch <- prometheus.MustNewConstMetric(descDisk, prometheus.GaugeValue, float64(st.BytesOnDisk))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ps, err := c.a.store.Probes(ctx)
	if err != nil {
		c.a.metrics.scrapeErrs.Inc()
		c.a.log.Warn("api: metrics: listing probes failed", "err", err)
		return
	}
	now := c.a.now()
	healthy := map[string]int{HealthOK: 0, HealthStale: 0}
	for i := range ps {
		p := &ps[i]
		h, _, _ := c.a.health(p, now)
		healthy[h]++
		id := text(p.Info.ID)
		ch <- prometheus.MustNewConstMetric(descLastReport, prometheus.GaugeValue, float64(p.LastReport.UnixNano())/1e9, id)
		ch <- prometheus.MustNewConstMetric(descLastSeq, prometheus.GaugeValue, float64(p.LastSeq), id)
		for cause, v := range p.Loss {
			counter(descProbeLoss, v, id, text(cause))
		}
	}
	for h, n := range healthy {
		ch <- prometheus.MustNewConstMetric(descProbes, prometheus.GaugeValue, float64(n), h)
	}
}

// slogPrinter hands promhttp's error messages to slog.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.log.Warn("api: metrics: " + fmt.Sprint(v...)) }
