# Known-answer work: real 80-byte block headers with their real nonces (verified by SHA-256d),
# plus a pool share captured from a Bitaxe Gamma (BM1370), version rolled to 0x20B44000.
# The firmware sends these as pattern jobs; a healthy chip must return exactly this nonce.
import binascii

_HEX = (
    # genesis block (height 0)
    "01000000" + "00" * 32
    + "3ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a"
    + "29ab5f49ffff001d1dac2b7c",
    # pool share from a Bitaxe Gamma capture (difficulty 29588, version rolled to 0x20B44000)
    "0040b420fd55646bc162b96dfcd4f201a3f4670d1d3996bc965201000000000000000000"
    + "06ddf5f08c36414b95ea54db71a0c28761a98bcf6355919e044f88725519a7cb"
    + "d7685468043a02174c035275",
    # height 1
    "010000006fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000"
    + "982051fd1e4ba744bbbe680e1fee14677ba1a3c3540bf7b1cdb606e857233e0e"
    + "61bc6649ffff001d01e36299",
    # height 2
    "010000004860eb18bf1b1620e37e9490fc8a427514416fd75159ab86688e9a8300000000"
    + "d5fdcc541e25de1c7a5addedf24858b8bb665c9f36ef744ee42c316022c90f9b"
    + "b0bc6649ffff001d08d2bd61",
    # height 3
    "01000000bddd99ccfda39da1b108ce1a5d70038d0a967bacb68b6b63065f626a00000000"
    + "44f672226090d85db9a9f2fbfe5f0f9609b387af7be5b7fbb7a1767c831c9e99"
    + "5dbe6649ffff001d05e0ed6d",
)


def headers():
    """The known-answer headers as bytes (80 each); the nonce is the last 4 bytes (LE)."""
    return [binascii.unhexlify(h) for h in _HEX]


def usable(ticket_difficulty):
    """Headers whose real hash meets the ticket mask, so a chip would report their nonce."""
    from .jobs import meets, sha256d

    return [h for h in headers() if meets(sha256d(h), ticket_difficulty)]
