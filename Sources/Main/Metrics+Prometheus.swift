import Prometheus

/// The Prometheus backend of swift-metrics, with buckets that fit what Hygge measures (the library's defaults
/// start at 5 ms and stop at 10 000, too coarse for sub-millisecond requests and fsyncs, and for bytes).
enum PrometheusSetup {
    static func factory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        let requestBuckets: [Duration] = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        ]
        factory.defaultDurationHistogramBuckets = requestBuckets
        factory.durationHistogramBuckets["hygge_journal_fsync_seconds"] = [
            .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
            .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        ]
        factory.durationHistogramBuckets["hygge_snapshot_duration_seconds"] = [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
            .seconds(30), .seconds(60),
        ]
        factory.valueHistogramBuckets["hygge_journal_batch_records"] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096]
        let kibibyte = 1024.0
        let snapshotBuckets: [Double] = [1, 16, 256, 1024, 4096, 16384, 65536, 262_144, 1_048_576, 4_194_304]
        factory.valueHistogramBuckets["hygge_snapshot_bytes"] = snapshotBuckets.map { $0 * kibibyte }
        return factory
    }
}
