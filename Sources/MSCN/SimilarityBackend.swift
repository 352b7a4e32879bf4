import Engine

/// Which image–caption pairs a similarity call scores.
public enum PairMode: Equatable, Sendable {
    /// Every image with every caption: pair p = i·captions + j.
    case all
    /// Image i with caption i.
    case diagonal
}

/// Computes the similarity vectors `[P, s]` of image/caption pairs from the encoders' outputs
/// (SCAN attention, local/global alignments, SGR or SAF), recording itself on the tape.
public protocol SimilarityBackend {
    /// - Parameters:
    ///   - images: `[Bi, R, d]`, imageGlobal `[Bi, d]`, captions `[Bc, Lmax, d]` (padding rows
    ///     ignored), captionGlobal `[Bc, d]`.
    ///   - params: the main net's parameters by reference name.
    ///   - safBN: SAF's batch-norm buffers (nil for SGR); updated when `updateStats`.
    func simVectors(tape: Tape, images: Var, imageGlobal: Var, captions: Var, lengths: [Int], captionGlobal: Var,
                    params: [String: Var], config: ModelConfig, safBN: inout BatchNormBuffers?,
                    pairs: PairMode, training: Bool, updateStats: Bool) -> Var
}
