import ImageEngine
import SquashFSFormat
import SystemSupport

/// One key of the hook settings: its name (in the file and the
/// environment alike), the values it accepts, and what it sets.
public enum HookSetting: String, CaseIterable, Sendable {
    case compression = "KSQSH_COMPRESSION"
    case blockSize = "KSQSH_BLOCK_SIZE"
    case jobs = "KSQSH_JOBS"
    case layout = "KSQSH_LAYOUT"
    case prepare = "KSQSH_PREPARE"
    case fallback = "KSQSH_FALLBACK"
    case slim = "KSQSH_SLIM"

    /// The values accepted, as the refusal names them.
    public var allowedValues: String {
        switch self {
        case .compression: Compression.allCases.filter(\.isAvailable).map(\.rawValue).joined(separator: ", ")
        case .blockSize: "a power of two from 4K to 1M (4K, 8K, …, 512K, 1M)"
        case .jobs: "all, or a number of threads from 1"
        case .layout: "auto, " + DataLayout.allCases.map(\.rawValue).joined(separator: ", ")
        case .prepare: "config, modules"
        case .fallback: "fail, plain"
        case .slim: "no, yes"
        }
    }

    func refusal(_ value: String) -> String {
        "\(rawValue)=\(DisplayedText.oneLine(value)) is not one of: \(allowedValues)"
    }

    /// Sets `value` on `settings`; false when the value is not one this key accepts.
    func apply(_ value: String, to settings: inout HookSettings) -> Bool {
        switch self {
        case .compression:
            guard let compression = Compression(rawValue: value), compression.isAvailable else { return false }
            settings.compression = compression
        case .blockSize:
            guard let size = SquashOptions.parseSize(value), SquashOptions.isValidBlockSize(size) else { return false }
            settings.blockSize = size
        case .jobs:
            if value == "all" {
                settings.jobs = nil
            } else {
                guard let jobs = Int(value), jobs >= 1 else { return false }
                settings.jobs = jobs
            }
        case .layout:
            if value == "auto" {
                settings.layout = nil
            } else {
                guard let layout = DataLayout(rawValue: value) else { return false }
                settings.layout = layout
            }
        case .prepare:
            guard ["config", "modules"].contains(value) else { return false }
            settings.prepareModules = value == "modules"
        case .fallback:
            guard ["fail", "plain"].contains(value) else { return false }
            settings.fallbackToPlain = value == "plain"
        case .slim:
            guard ["no", "yes"].contains(value) else { return false }
            settings.slimAfterInstall = value == "yes"
        }
        return true
    }
}
