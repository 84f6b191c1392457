import NIOCore
import Testing
@testable import SCTPWire

@Suite("ASCONF address parameter")
struct ASCONFAddressTests {
    @Test("a non-address parameter where ASCONF needs an address names the type found")
    func wrongAddressType() {
        var value = ByteBuffer()
        value.writeInteger(UInt32(1))  // serial number
        HostNameAddressParameter(name: "abc").write(to: &value)
        #expect(throws: WireError.invalidParameterValue(type: HostNameAddressParameter.parameterType)) {
            try ASCONFChunk(flags: 0, value: value)
        }
    }

    @Test("inside Add IP Address the error names the request's type")
    func wrongAddressInRequest() {
        var value = ByteBuffer()
        value.writeInteger(UInt32(9))  // correlation id
        HostNameAddressParameter(name: "abc").write(to: &value)
        #expect(throws: WireError.invalidParameterValue(type: AddIPAddressParameter.parameterType)) {
            try AddIPAddressParameter(value: value)
        }
    }
}
