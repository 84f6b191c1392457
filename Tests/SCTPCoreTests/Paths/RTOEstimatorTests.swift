import SCTPCore
import Testing

@Suite("RTO estimator")
struct RTOEstimatorTests {
    /// RFC 9260 gains with a low minimum so the computed values show unclamped.
    static let open = RTOParameters(initial: .seconds(1), minimum: .milliseconds(10), maximum: .seconds(60))

    @Test("before any measurement the RTO is RTO.Initial (C1)")
    func initial() {
        let rto = RTOEstimator()
        #expect(rto.rto == .seconds(1))
        #expect(rto.srtt == nil)
        #expect(rto.rttvar == nil)
        #expect(!rto.hasMeasurement)
        #expect(rto.parameters == .rfc9260)
        #expect(RTOEstimator(parameters: .rfc4960).rto == .seconds(3))
        #expect(RTOEstimator(parameters: .lowLatency).rto == .milliseconds(500))
        #expect(RTOEstimator(initial: .milliseconds(200), minimum: .milliseconds(100), maximum: .seconds(5)).rto
            == .milliseconds(200))
    }

    @Test("an absurd first measurement (a broken clock) is bounded: SRTT stays within 2^40 ns, so timers derived from it cannot overflow")
    func absurdSampleBounded() throws {
        for sample: Duration in [.seconds(Int64.max / 2), .seconds(1 << 40)] {
            var estimator = RTOEstimator()
            estimator.addSample(sample)
            let bound = Duration.nanoseconds(Int64(1) << 40)
            let srtt = try #require(estimator.srtt)
            #expect(srtt <= bound && srtt > .zero)
            estimator.addSample(sample)
            #expect(try #require(estimator.srtt) <= bound)
        }
    }

    @Test("the defaults are RFC 9260's")
    func defaults() {
        let p = RTOParameters.rfc9260
        #expect(p.initial == .seconds(1))
        #expect(p.minimum == .seconds(1))
        #expect(p.maximum == .seconds(60))
        #expect(p.alpha == SmoothingGain(numerator: 1, denominator: 8))
        #expect(p.beta == SmoothingGain(numerator: 1, denominator: 4))
        #expect(RTOParameters.lowLatency.minimum == .milliseconds(400))
    }

    @Test("the first measurement sets SRTT = R and RTTVAR = R/2 (C2), then clamps to RTO.Min")
    func firstMeasurement() {
        var rto = RTOEstimator()
        rto.addSample(.milliseconds(100))
        #expect(rto.srtt == .milliseconds(100))
        #expect(rto.rttvar == .milliseconds(50))
        // 100 + 4·50 = 300 ms, below RTO.Min 1 s.
        #expect(rto.rto == .seconds(1))

        var open = RTOEstimator(parameters: Self.open)
        open.addSample(.milliseconds(100))
        #expect(open.rto == .milliseconds(300))
    }

    @Test("later measurements follow C3, RTTVAR using the SRTT from before the update (hand-computed)")
    func laterMeasurements() {
        var rto = RTOEstimator(parameters: Self.open)
        rto.addSample(.milliseconds(100))
        // RTTVAR = 3/4·50 + 1/4·|100 − 200| = 62.5; SRTT = 7/8·100 + 1/8·200 = 112.5; RTO = 112.5 + 250.
        rto.addSample(.milliseconds(200))
        #expect(rto.rttvar == .microseconds(62_500))
        #expect(rto.srtt == .microseconds(112_500))
        #expect(rto.rto == .microseconds(362_500))
        // RTTVAR = 3/4·62.5 + 1/4·|112.5 − 100| = 50; SRTT = 7/8·112.5 + 1/8·100 = 110.9375; RTO = 310.9375.
        rto.addSample(.milliseconds(100))
        #expect(rto.rttvar == .milliseconds(50))
        #expect(rto.srtt == .nanoseconds(110_937_500))
        #expect(rto.rto == .nanoseconds(310_937_500))
        // Had RTTVAR used the new SRTT (101.36…), it would not be exactly 50 ms: the order matters.
    }

    @Test("the variance term is at least the clock granularity G")
    func granularity() {
        let parameters = RTOParameters(initial: .seconds(1), minimum: .zero, maximum: .seconds(60),
                                       clockGranularity: .milliseconds(10))
        var rto = RTOEstimator(parameters: parameters)
        rto.addSample(.milliseconds(100))
        #expect(rto.rto == .milliseconds(300))
        // Constant samples: RTTVAR = 50·(3/4)^k shrinks; after 11 more samples 4·RTTVAR ≈ 8.4 ms < G.
        for _ in 0..<11 { rto.addSample(.milliseconds(100)) }
        #expect(rto.srtt == .milliseconds(100))
        #expect(rto.rttvar! * 4 < .milliseconds(10))
        #expect(rto.rto == .milliseconds(110))

        var zero = RTOEstimator(parameters: parameters)
        zero.addSample(.zero)
        #expect(zero.rto == .milliseconds(10))
    }

    @Test("computed values are clamped to [RTO.Min, RTO.Max] (C6, C7)")
    func clamping() {
        var rto = RTOEstimator()
        rto.addSample(.seconds(50))
        // 50 + 4·25 = 150 s.
        #expect(rto.rto == .seconds(60))
        rto.addSample(.milliseconds(1))
        #expect(rto.rto == .seconds(60))

        var small = RTOEstimator()
        small.addSample(.microseconds(10))
        #expect(small.rto == .seconds(1))

        var negative = RTOEstimator(parameters: Self.open)
        negative.addSample(.milliseconds(-5))
        #expect(negative.srtt == .zero)
        #expect(negative.rto == .milliseconds(10))
    }

    @Test("backing off doubles up to RTO.Max; a new measurement ends the back-off")
    func backoff() {
        var rto = RTOEstimator()
        var seen: [Duration] = []
        for _ in 0..<8 {
            rto.backOff()
            seen.append(rto.rto)
        }
        #expect(seen == [2, 4, 8, 16, 32, 60, 60, 60].map { Duration.seconds($0) })
        #expect(rto.backoffCount == 8)

        var open = RTOEstimator(parameters: Self.open)
        open.backOff()
        open.backOff()
        #expect(open.rto == .seconds(4))
        open.addSample(.milliseconds(100))
        #expect(open.rto == .milliseconds(300))
        #expect(open.backoffCount == 0)
        open.backOff()
        #expect(open.rto == .milliseconds(600))
        open.backOff()
        #expect(open.rto == .milliseconds(1200))
        // The measurement after a back-off uses SRTT/RTTVAR, which back-off did not touch.
        open.addSample(.milliseconds(100))
        #expect(open.srtt == .nanoseconds(100_000_000))
        #expect(open.rttvar == .microseconds(37_500))
        #expect(open.rto == .milliseconds(250))
    }

    @Test("reset forgets measurements and back-off")
    func reset() {
        var rto = RTOEstimator(parameters: Self.open)
        rto.addSample(.milliseconds(100))
        rto.backOff()
        rto.reset()
        #expect(rto == RTOEstimator(parameters: Self.open))
        #expect(rto.rto == .seconds(1))
    }

    @Test("inconsistent bounds are normalised and custom gains apply")
    func parameters() {
        let odd = RTOParameters(initial: .seconds(10), minimum: .seconds(2), maximum: .seconds(1))
        #expect(odd.maximum == .seconds(2))
        #expect(RTOEstimator(parameters: odd).rto == .seconds(2))
        #expect(RTOEstimator(parameters: RTOParameters(initial: .milliseconds(1), minimum: .milliseconds(50),
                                                       maximum: .seconds(1))).rto == .milliseconds(50))
        #expect(SmoothingGain(numerator: 5, denominator: 4) == SmoothingGain(numerator: 4, denominator: 4))
        #expect(SmoothingGain(numerator: 1, denominator: 0).denominator == 1)

        // α = 1/2, β = 1/2: RTTVAR = 1/2·50 + 1/2·100 = 75; SRTT = 1/2·100 + 1/2·200 = 150; RTO = 150 + 300.
        let custom = RTOParameters(initial: .seconds(1), minimum: .milliseconds(1), maximum: .seconds(60),
                                   alpha: SmoothingGain(numerator: 1, denominator: 2),
                                   beta: SmoothingGain(numerator: 1, denominator: 2))
        var rto = RTOEstimator(parameters: custom)
        rto.addSample(.milliseconds(100))
        rto.addSample(.milliseconds(200))
        #expect(rto.rttvar == .milliseconds(75))
        #expect(rto.srtt == .milliseconds(150))
        #expect(rto.rto == .milliseconds(450))
    }
}
