import Foundation

/// Claims: which process computes which key. Concurrent runs, on one machine or on many, never
/// compute a key twice: a claim is taken in a transaction that either inserts the claim row or
/// locks the existing one (`FOR UPDATE` in PostgreSQL; SQLite's write transactions are exclusive).
extension Cache {
    public enum ClaimOutcome: Equatable, Sendable {
        /// This process now owns the key (`tookOverFrom`: a dead or silent previous owner).
        case acquired(tookOverFrom: ClaimOwner?)
        /// A live process is computing it.
        case heldBy(ClaimOwner)
        /// The result appeared meanwhile.
        case done
    }

    /// Tries to make `owner` (this process, except in tests that stand in for others) the one
    /// computing `key`.
    func claim(_ key: StageKey, as owner: ClaimOwner = .current) throws -> ClaimOutcome {
        // A claim row can vanish between the insert that found it and the select that locks it
        // (its owner committed); the next attempt then sees the result.
        for _ in 0..<100 {
            if let outcome = try attemptClaim(key, owner) { return outcome }
        }
        throw PipelineError.cache(path: db.location, reason: "the claim on \(key.short) kept changing hands")
    }

    private func attemptClaim(_ key: StageKey, _ me: ClaimOwner) throws -> ClaimOutcome? {
        let now = Date()
        return try db.write { x -> ClaimOutcome? in
            let inserted = !(try x.query("INSERT INTO claims (key, pid, host, job, heartbeat) VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING key",
                                         [.text(key.hex)] + Self.values(me) + [.real(now.timeIntervalSince1970)]).isEmpty)
            let held = inserted ? nil : try x.query("SELECT pid, host, job, heartbeat FROM claims WHERE key = ?" + db.dialect.forUpdate,
                                                    [.text(key.hex)]).first.map(Self.claim)
            if !inserted && held == nil { return nil }
            // Read after the claim row is ours or locked, so a result its previous owner committed is visible.
            if try Self.hasResult(key, in: x) {
                if inserted { try x.execute("DELETE FROM claims WHERE key = ?", [.text(key.hex)]) }
                return .done
            }
            guard let held else { return .acquired(tookOverFrom: nil) }
            let mine = held.owner.pid == me.pid && held.owner.host == me.host
            if !mine, held.isLive(staleAfter: claimStaleAfter, now: now) { return .heldBy(held.owner) }
            try x.execute("UPDATE claims SET pid = ?, host = ?, job = ?, heartbeat = ? WHERE key = ?",
                          Self.values(me) + [.real(now.timeIntervalSince1970), .text(key.hex)])
            return .acquired(tookOverFrom: mine ? nil : held.owner)
        }
    }

    func heartbeat(_ key: StageKey) throws {
        let me = ClaimOwner.current
        try db.write { x in
            try x.execute("UPDATE claims SET heartbeat = ? WHERE key = ? AND pid = ? AND host = ?",
                          [.real(Date().timeIntervalSince1970), .text(key.hex), .int(Int64(me.pid)), .text(me.host)])
        }
    }

    func release(_ key: StageKey) throws {
        let me = ClaimOwner.current
        try db.write { x in
            try x.execute("DELETE FROM claims WHERE key = ? AND pid = ? AND host = ?", [.text(key.hex), .int(Int64(me.pid)), .text(me.host)])
        }
    }

    /// Every claim row, live or not (see `Claim.isLive`).
    public func claims() throws -> [StageKey: Claim] {
        try db.read { x in
            var out: [StageKey: Claim] = [:]
            for row in try x.query("SELECT key, pid, host, job, heartbeat FROM claims", []) { out[StageKey(hex: try row.text("key"))] = try Self.claim(row) }
            return out
        }
    }

    /// Whether `claim` still protects its key (see `Claim.isLive`).
    public func isLive(_ claim: Claim) -> Bool { claim.isLive(staleAfter: claimStaleAfter) }

    /// Removes claims whose owner is gone (dead on this host, silent anywhere); returns how many.
    func dropDeadClaims() throws -> Int {
        try db.write { x in
            var count = 0
            for row in try x.query("SELECT key, pid, host, job, heartbeat FROM claims" + db.dialect.forUpdate, []) where !isLive(try Self.claim(row)) {
                try x.execute("DELETE FROM claims WHERE key = ? AND pid = ? AND host = ?", [row["key"], row["pid"], row["host"]])
                count += 1
            }
            return count
        }
    }

    /// Writes a claim row as another process would (tests simulate dead, live and remote owners).
    func insertClaim(_ key: StageKey, owner: ClaimOwner, heartbeat: Date) throws {
        try db.write { x in
            try x.execute("INSERT INTO claims (key, pid, host, job, heartbeat) VALUES (?, ?, ?, ?, ?)",
                          [.text(key.hex)] + Self.values(owner) + [.real(heartbeat.timeIntervalSince1970)])
        }
    }

    /// Whether `key` has a committed result, read inside the transaction `x`.
    static func hasResult(_ key: StageKey, in x: SQLExecutor) throws -> Bool {
        try !x.query("SELECT 1 AS present FROM results WHERE key = ?", [.text(key.hex)]).isEmpty
    }

    static func values(_ owner: ClaimOwner) -> [SQLValue] { [.int(Int64(owner.pid)), .text(owner.host), .text(owner.job)] }

    static func claim(_ row: SQLRow) throws -> Claim {
        Claim(owner: ClaimOwner(pid: Int32(truncatingIfNeeded: try row.int("pid")), host: try row.text("host"), job: try row.text("job")),
              heartbeat: Date(timeIntervalSince1970: try row.real("heartbeat")))
    }
}
