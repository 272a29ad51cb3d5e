import Glibc
import GraftFoundation

/// Writes `text` to `path`, replacing it.
func writeText(_ text: String, to path: String) throws {
    guard let file = fopen(path, "w") else {
        throw GraftError.io("cannot write \(path): \(systemErrorText(errno))")
    }
    let written = fputs(text, file)
    guard fclose(file) == 0 && written >= 0 else { throw GraftError.io("cannot write \(path)") }
}
