extension Vault {
    /// The merchants whose data key `master` cannot unwrap (a wrong or rotated-away `HYGGE_MASTER_KEY`).
    package static func merchantsNotOpening(_ states: [MerchantID: MerchantState], master: MasterKey) -> [MerchantID] {
        states.values.filter { (try? Vault.unwrap($0.dataKey, for: $0.id, master: master)) == nil }.map(\.id).sorted()
    }
}
