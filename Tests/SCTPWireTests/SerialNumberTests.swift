import SCTPWire
import Testing

/// RFC 1982 serial number arithmetic on TSN, SSN, MID and FSN.
@Suite("Serial numbers")
struct SerialNumberTests {
    @Test func tsnComparisonAroundTheWrap() {
        #expect(TSN(0xFFFF_FFFF) < TSN(0))
        #expect(!(TSN(0) < TSN(0xFFFF_FFFF)))
        #expect(TSN(0) > TSN(0xFFFF_FFFF))
        #expect(TSN(0xFFFF_FFF0) < TSN(0x0000_0010))
        #expect(TSN(0x0000_0010) > TSN(0xFFFF_FFF0))
        #expect(TSN(5) < TSN(6))
        #expect(!(TSN(6) < TSN(5)))
        #expect(TSN(6) > TSN(5))
        // Equal numbers are not less than each other.
        #expect(!(TSN(7) < TSN(7)))
        #expect(!(TSN(0xFFFF_FFFF) < TSN(0xFFFF_FFFF)))
        #expect(TSN(7) <= TSN(7))
        #expect(TSN(7) >= TSN(7))
        #expect(TSN(7) == TSN(7))
        #expect(TSN(7) != TSN(8))
    }

    @Test func tsnHalfTheSpace() {
        // Just under half the space ahead is "greater"; the wrap decides, not the raw value.
        #expect(TSN(0) < TSN(0x7FFF_FFFF))
        #expect(TSN(0x7FFF_FFFF) > TSN(0))
        #expect(TSN(0x8000_0000) < TSN(0xFFFF_FFFF))
        #expect(TSN(0x8000_0001) < TSN(0))
        #expect(TSN(0) > TSN(0x8000_0001))
        #expect(TSN(1) < TSN(0x8000_0000))
        // Exactly half the space apart: undefined by RFC 1982, neither is less.
        #expect(!(TSN(0) < TSN(0x8000_0000)))
        #expect(!(TSN(0x8000_0000) < TSN(0)))
        #expect(!(TSN(0x1234) < TSN(0x8000_1234)))
        #expect(!(TSN(0x8000_1234) < TSN(0x1234)))
    }

    @Test func ssnComparisonAroundTheWrap() {
        #expect(SSN(65535) < SSN(0))
        #expect(!(SSN(0) < SSN(65535)))
        #expect(SSN(65530) < SSN(3))
        #expect(SSN(5) < SSN(6))
        #expect(!(SSN(6) < SSN(5)))
        #expect(!(SSN(9) < SSN(9)))
        #expect(SSN(0) < SSN(0x7FFF))
        #expect(!(SSN(0) < SSN(0x8000)))
        #expect(!(SSN(0x8000) < SSN(0)))
        #expect(SSN(0x8001) < SSN(0))
    }

    @Test func midAndFSN() {
        #expect(MID(0xFFFF_FFFF) < MID(0))
        #expect(MID(5) < MID(6))
        #expect(!(MID(6) < MID(5)))
        #expect(FSN(0xFFFF_FFFE) < FSN(1))
        #expect(!(FSN(1) < FSN(1)))
        #expect(MID(0xFFFF_FFFF).next == MID(0))
        #expect(FSN(0).previous == FSN(0xFFFF_FFFF))
    }

    @Test func advancedNextPrevious() {
        #expect(TSN(10).advanced(by: 5) == TSN(15))
        #expect(TSN(0xFFFF_FFFE).advanced(by: 3) == TSN(1))
        #expect(TSN(0xFFFF_FFFF).advanced(by: 0) == TSN(0xFFFF_FFFF))
        #expect(TSN(1).advanced(by: 0xFFFF_FFFF) == TSN(0))
        #expect(SSN(65535).advanced(by: 1) == SSN(0))
        #expect(SSN(65000).advanced(by: 1000) == SSN(464))
        #expect(TSN(0xFFFF_FFFF).next == TSN(0))
        #expect(TSN(0).previous == TSN(0xFFFF_FFFF))
        #expect(SSN(65535).next == SSN(0))
        #expect(SSN(0).previous == SSN(65535))
        #expect(TSN(41).next == TSN(42))
        // Every step forward by less than half the space compares greater.
        let base = TSN(0xFFFF_FF00)
        for step: UInt32 in [1, 2, 0xFF, 0x100, 0x101, 0x7FFF_FFFF] {
            #expect(base < base.advanced(by: step), "step \(step)")
            #expect(base.advanced(by: step) > base, "step \(step)")
        }
    }

    @Test func distance() {
        #expect(TSN(5).distance(to: TSN(6)) == 1)
        #expect(TSN(6).distance(to: TSN(5)) == 0xFFFF_FFFF)
        #expect(TSN(0xFFFF_FFFE).distance(to: TSN(2)) == 4)
        #expect(TSN(2).distance(to: TSN(0xFFFF_FFFE)) == 0xFFFF_FFFC)
        #expect(TSN(9).distance(to: TSN(9)) == 0)
        #expect(SSN(65534).distance(to: SSN(1)) == 3)
        #expect(SSN(1).distance(to: SSN(65534)) == 65533)
        // distance and advanced are inverse.
        for (a, b): (UInt32, UInt32) in [(0, 0), (1, 0xFFFF_FFFF), (0xDEAD_BEEF, 0x1234), (0x8000_0000, 7)] {
            #expect(TSN(a).advanced(by: TSN(a).distance(to: TSN(b))) == TSN(b))
        }
    }

    @Test func sortingCloseNumbersAcrossTheWrap() {
        let tsns = [TSN(2), TSN(0xFFFF_FFFF), TSN(0), TSN(0xFFFF_FFFE), TSN(1)]
        #expect(tsns.sorted() == [TSN(0xFFFF_FFFE), TSN(0xFFFF_FFFF), TSN(0), TSN(1), TSN(2)])
        #expect(tsns.max() == TSN(2))
        #expect(tsns.min() == TSN(0xFFFF_FFFE))
    }

    @Test func descriptionAndRawValue() {
        #expect(TSN(0xFFFF_FFFF).description == "4294967295")
        #expect(SSN(65535).description == "65535")
        #expect(MID(0).description == "0")
        #expect(TSN(123).rawValue == 123)
        #expect(SSN(7).rawValue == 7)
    }
}
