import BrokerCore
import Testing

@Suite struct PeerAddressTests {
    @Test func anIPv4PeerReadsAsAddressAndPort() {
        let peer = PeerAddress.ipv4(203 << 24 | 0 << 16 | 113 << 8 | 7, port: 51234)
        #expect(peer.description == "203.0.113.7:51234")
        #expect(PeerAddress.ipv4(0xFFFF_FFFF, port: 65535).description == "255.255.255.255:65535")
        #expect(PeerAddress.ipv4(0, port: 0).description == "0.0.0.0:0")
    }

    @Test func anyOtherPeerIsItsText() {
        let peer: PeerAddress = "[::1]:1883"
        #expect(peer.description == "[::1]:1883")
    }
}
