import Actors
import Testing

@Suite("Money in integer minor units")
struct MoneyTests {
    @Test(
        "0.5% fee, rounded half up to the minor unit",
        arguments: [
            (0, 0), (1, 0), (99, 0), (100, 1), (199, 1), (299, 1), (300, 2), (39_800, 199), (12_900, 65),
            (12_999, 65), (13_100, 66), (1_000_000, 5000), (-500, 0),
        ] as [(Int64, Int64)])
    func fee(amount: Int64, expected: Int64) {
        #expect(Currency.platformFee(amount) == expected)
    }

    @Test("the fee rule is exactly (amount*5 + 500) / 1000 over a range")
    func feeMatchesContractFormula() {
        for amount in Int64(1)...20_000 {
            #expect(Currency.platformFee(amount) == (amount * 5 + 500) / 1000)
        }
    }

    @Test(
        "decimal strings at the edges",
        arguments: [
            (39_800, "USD", "398.00"), (5, "USD", "0.05"), (0, "USD", "0.00"), (1500, "JPY", "1500"),
            (1234, "KWD", "1.234"), (-250, "EUR", "-2.50"), (100, "usd", "1.00"),
        ] as [(Int64, String, String)])
    func decimalString(minor: Int64, currency: String, text: String) {
        #expect(Currency.decimalString(minor: minor, currency: currency) == text)
        #expect(Currency.parseDecimal(text, currency: currency) == minor)
    }

    @Test(
        "parsing Shopify/Whop decimals",
        arguments: [
            ("129.00", "USD", 12_900), ("129", "USD", 12_900), ("129.5", "USD", 12_950), ("0.99", "USD", 99),
            ("398.000", "USD", 39_800), (" 1.00 ", "USD", 100), ("1500", "JPY", 1500), ("1500.00", "JPY", 1500),
            (".50", "USD", 50),
        ] as [(String, String, Int64)])
    func parse(text: String, currency: String, minor: Int64) {
        #expect(Currency.parseDecimal(text, currency: currency) == minor)
    }

    @Test(
        "rejecting what is not an exact amount",
        arguments: [
            ("1.005", "USD"), ("1500.5", "JPY"), ("abc", "USD"), ("1,00", "USD"), ("", "USD"), ("1e3", "USD"),
            ("99999999999999999999", "USD"), ("1.2.3", "USD"), ("--1", "USD"),
        ] as [(String, String)])
    func reject(text: String, currency: String) {
        #expect(Currency.parseDecimal(text, currency: currency) == nil)
    }

    @Test("currency exponents and codes")
    func exponents() {
        #expect(Currency.exponent("USD") == 2)
        #expect(Currency.exponent("jpy") == 0)
        #expect(Currency.exponent("KRW") == 0)
        #expect(Currency.exponent("BHD") == 3)
        #expect(Currency.isValidCode("EUR"))
        #expect(!Currency.isValidCode("EURO"))
        #expect(!Currency.isValidCode("E1R"))
        #expect(Money(amount: 1, currency: "usd").currency == "USD")
    }

    @Test("UTC calendar months")
    func months() {
        #expect(Timestamp(milliseconds: 0).month == "1970-01")
        // 2026-12-31T23:59:59.999Z and one millisecond later.
        #expect(Timestamp(milliseconds: 1_798_761_599_999).month == "2026-12")
        #expect(Timestamp(milliseconds: 1_798_761_600_000).month == "2027-01")
        #expect(Timestamp.isValidMonth("2026-12"))
        #expect(!Timestamp.isValidMonth("2026-13"))
        #expect(!Timestamp.isValidMonth("2026-1"))
        #expect(!Timestamp.isValidMonth("2026-00"))
    }
}
