import Foundation
import GraftData
import GraftFoundation
import GraftKernels
import Testing

// Listing, split, shuffle and resize against what Keras and numpy computed on
// the same inputs (tools/make_data_fixtures.py; its findings are written up
// in tools/DATA-FIXTURES.md).

@Test("numpy's RandomState(seed).shuffle, bit for bit")
func numpyShuffle() throws {
    let vectors = try DataFixtures.json("data/randomstate.json")["vectors"] as! [[String: Any]]
    #expect(vectors.count >= 40)
    for vector in vectors {
        let seed = vector["seed"] as! Int, n = vector["n"] as! Int
        var permutation = Array(0..<n)
        var random = NumpyRandomState(seed: UInt32(seed))
        random.shuffle(&permutation)
        if let expected = vector["perm"] as? [Int] {
            #expect(permutation == expected, "seed \(seed), n \(n)")
        } else {
            #expect(Array(permutation.prefix(50)) == vector["first50"] as! [Int], "seed \(seed), n \(n)")
            #expect(Array(permutation.suffix(50)) == vector["last50"] as! [Int], "seed \(seed), n \(n)")
        }
        // Σ i·perm[i] mod 2^61 − 1, as the script computes it.
        let modulus = (1 << 61) - 1
        let checksum = permutation.enumerated().reduce(0) { ($0 + $1.offset * $1.element) % modulus }
        #expect(checksum == vector["checksum"] as! Int, "seed \(seed), n \(n)")
    }
}

/// The class folder without images of each tree that has one. Keras keeps
/// such a class (with no files); Graft refuses it.
private let emptyClasses = ["tricky": "empty", "medium": "c_empty"]

/// Where Graft deliberately refuses what Keras accepts, and why.
private func deliberateRefusal(_ args: [String: Any], tree: String, keras: [String: Any]?) -> String? {
    if let names = args["class_names"] as? [String], Set(names.map { Array($0.utf8) }).count != names.count {
        return "a class named twice is an error in Graft (Keras lists its files twice)"
    }
    if let split = (args["validation_split"] as? NSNumber)?.doubleValue, split > 0, let n = keras?["num_files"] as? Int,
       Int(split * Double(n)) == 0 {
        return "a split that holds out no image is an error in Graft (Keras hands out every image for validation)"
    }
    return nil
}

/// Graft's options for a case, or nil when the case uses an argument Graft
/// does not offer (labels=None, label_mode "binary"/None, seeds numpy refuses).
private func options(_ args: [String: Any]) -> (DatasetOptions, both: Bool)? {
    if args["labels"] is NSNull || (args.keys.contains("label_mode") && !(args["label_mode"] is String)) { return nil }
    if let mode = args["label_mode"] as? String, mode != "int" && mode != "categorical" { return nil }
    var o = DatasetOptions()
    o.shuffle = args["shuffle"] as! Bool
    if let seed = args["seed"] as? Int {
        guard seed >= 0 && seed <= Int(UInt32.max) else { return nil }
        o.seed = UInt32(seed)
    }
    // Keras treats validation_split=0 as no split.
    if let split = (args["validation_split"] as? NSNumber)?.doubleValue, split != 0 { o.validationSplit = split }
    var both = false
    switch args["subset"] as? String {
    case nil: break
    case "training": o.subset = .training
    case "validation": o.subset = .validation
    case "both": both = true
    default: o.subset = .training; o.validationSplit = -1  // an unknown subset name: refused either way
    }
    o.classNames = args["class_names"] as? [String]
    o.followLinks = args["follow_links"] as? Bool ?? false
    return (o, both)
}

@Test("file listing, class names, labels and split equal Keras's on every generated tree")
func listingMatchesKeras() throws {
    let listing = try DataFixtures.json("data/listing.json")
    let cases = listing["cases"] as! [[String: Any]]
    var compared = 0, refusedLikeKeras = 0, refusedDeliberately = 0
    for c in cases {
        let id = c["id"] as! Int, tree = c["tree"] as! String
        let args = c["args"] as! [String: Any]
        guard var (o, both) = options(args) else { continue }
        let root = try DataFixtures.path("data/trees") + "/" + tree
        func run() throws -> [(ImageDataset, [String: Any])] {
            let o = o
            let result = c["result"] as? [String: Any]
            if both {
                var split = o
                split.subset = nil
                let (training, validation) = try ImageDataset.fromDirectorySplit(root, options: split)
                return [(training, result?["training"] as? [String: Any] ?? [:]),
                        (validation, result?["validation"] as? [String: Any] ?? [:])]
            }
            return [(try ImageDataset.fromDirectory(root, options: o), result ?? [:])]
        }
        let keras = c["result"] as? [String: Any]
        if c["error"] != nil || deliberateRefusal(args, tree: tree, keras: keras) != nil {
            #expect(throws: GraftError.self, "case \(id) (\(tree)): Keras or Graft's rules refuse it") { _ = try run() }
            if c["error"] != nil { refusedLikeKeras += 1 } else { refusedDeliberately += 1 }
            continue
        }
        let kerasClasses = keras!["class_names"] as! [String]
        var expectedClasses = kerasClasses
        if let empty = emptyClasses[tree], kerasClasses.contains(empty) {
            // Graft refuses the empty class; without it, the listing (and so
            // numpy's shuffle of it) is the same, and labels map by name.
            #expect(throws: GraftError.self, "case \(id) (\(tree)): empty class folder") { _ = try run() }
            expectedClasses.removeAll { $0 == empty }
            o.classNames = expectedClasses
            refusedDeliberately += 1
        }
        for (dataset, expected) in try run() {
            #expect(dataset.classNames == expectedClasses, "case \(id)")
            let paths = dataset.filePaths.map { String($0.dropFirst(root.count + 1)) }
            #expect(paths == expected["file_paths"] as! [String], "case \(id) (\(tree)): file order")
            if let labels = expected["labels"] as? [Int] {
                let names = dataset.labels.map { dataset.classNames[Int($0)] }
                #expect(names == labels.map { kerasClasses[$0] }, "case \(id) (\(tree)): labels")
            }
        }
        compared += 1
    }
    // Guards against a fixture file that silently lost its cases.
    #expect(compared >= 400 && refusedLikeKeras >= 15 && refusedDeliberately >= 200,
            "\(compared) compared, \(refusedLikeKeras) refused as Keras does, \(refusedDeliberately) deliberately")
}

@Test("bilinear resize and crop_to_aspect_ratio equal tf.image.resize within 1e-3")
func resizeMatchesTensorFlow() throws {
    let spec = try DataFixtures.json("data/resize.json")
    let outputs = spec["outputs"] as! [[String: Any]]
    #expect(outputs.count >= 40)
    var worst: Float = 0
    for output in outputs {
        let inputFile = output["input"] as! String
        let inputShape = (spec["inputs"] as! [[String: Any]]).first { $0["file"] as! String == inputFile }!["shape"] as! [Int]
        let shape = output["shape"] as! [Int]
        let input = try DataFixtures.floats("data/" + inputFile, count: inputShape.reduce(1, *))
        let expected = try DataFixtures.floats("data/" + (output["file"] as! String), count: shape.reduce(1, *))
        let (h, w) = (inputShape[0], inputShape[1])
        var region = ImageRegion.whole(height: h, width: w)
        if output["crop_to_aspect_ratio"] as! Bool {
            region = .centredCrop(height: h, width: w, targetHeight: shape[0], targetWidth: shape[1])
            let box = output["crop_box"] as! [String: Int]
            #expect(region == ImageRegion(top: box["top"]!, left: box["left"]!, height: box["height"]!,
                                          width: box["width"]!), "\(output["file"]!)")
        }
        var result = [Float](repeating: .nan, count: expected.count)
        input.withUnsafeBufferPointer { pixels in
            BilinearResize.resize(pixels.baseAddress!, height: h, width: w, channels: 3, region: region,
                                  outHeight: shape[0], outWidth: shape[1], into: &result)
        }
        let error = zip(result, expected).map { abs($0 - $1) }.max()!
        worst = max(worst, error)
        #expect(error <= 1e-3, "\(output["file"]!): max error \(error)")
    }
    // TensorFlow's order of operations is followed, so the agreement is
    // expected to be exact; 1e-3 is the issue's bar.
    #expect(worst <= 1e-3)
}
