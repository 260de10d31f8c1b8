// Readers on tiny files the test writes itself: round trips and every malformed-file error.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>

#include "absl/strings/str_cat.h"
#include "tasks/data/data_files.h"
#include "tasks/data/idx.h"
#include "tasks/data/image_datasets.h"
#include "tasks/data/md5.h"
#include "tasks/data/text_data.h"

namespace tasks {
namespace {

std::string TempDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

std::string WriteFile(const std::string& name, const std::string& bytes) {
  const std::string path = absl::StrCat(TempDir(), "/", name);
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string WriteGzip(const std::string& name, const std::string& bytes) {
  const std::string path = absl::StrCat(TempDir(), "/", name);
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
  return path;
}

void ExpectErrorMentions(const absl::Status& status, const std::string& a, const std::string& b) {
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find(a), std::string::npos) << status.message();
  EXPECT_NE(status.message().find(b), std::string::npos) << status.message();
}

TEST(Md5, KnownVectors) {
  EXPECT_EQ(Md5Hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(Md5Hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(Md5Hex("The quick brown fox jumps over the lazy dog"),
            "9e107d9d372bb6826bd81d3542a419d6");
  EXPECT_EQ(Md5Hex("1234567890123456789012345678901234567890123456789012345678901234567890123456"
                   "7890"),
            "57edf4a22be3c955ac49da2e2107b67a");
  EXPECT_EQ(*Md5HexOfFile(WriteFile("abc.txt", "abc")), "900150983cd24fb0d6963f7d28e17f72");
}

TEST(Idx, RoundTripPlainAndGzipped) {
  at::Tensor data =
      at::arange(2 * 3 * 4, at::kLong).remainder(256).to(at::kByte).reshape({2, 3, 4});
  for (bool gz : {false, true}) {
    const std::string bytes = EncodeIdx(data);
    const std::string path = gz ? WriteGzip("d.idx.gz", bytes) : WriteFile("d.idx", bytes);
    absl::StatusOr<at::Tensor> read = ReadIdx(path);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_TRUE(at::equal(*read, data));
  }
}

TEST(Idx, MalformedFilesGiveErrorsNamingTheFile) {
  const std::string good = EncodeIdx(at::zeros({4, 2}, at::kByte));
  std::string wrong_magic = good;
  wrong_magic[0] = 0x1f;
  ExpectErrorMentions(ReadIdx(WriteFile("magic.idx", wrong_magic)).status(), "magic.idx",
                      "wrong magic number");
  std::string wrong_type = good;
  wrong_type[2] = 0x0D;
  ExpectErrorMentions(ReadIdx(WriteFile("type.idx", wrong_type)).status(), "type.idx",
                      "not unsigned byte");
  ExpectErrorMentions(ReadIdx(WriteFile("short.idx", good.substr(0, good.size() - 3))).status(),
                      "short.idx", "truncated");
  ExpectErrorMentions(ReadIdx(WriteFile("tiny.idx", "\0\0")).status(), "tiny.idx", "magic");
  ExpectErrorMentions(ReadIdx(absl::StrCat(TempDir(), "/absent.idx")).status(), "absent.idx",
                      kFetchCommand);
  // A gzip stream cut short is reported as corrupt, not read as garbage.
  const std::string gz_path = WriteGzip("cut.idx.gz", good + std::string(4096, 'x'));
  std::string gz_bytes;
  {
    std::ifstream in(gz_path, std::ios::binary);
    gz_bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  ExpectErrorMentions(
      ReadIdx(WriteFile("cut2.idx.gz", gz_bytes.substr(0, gz_bytes.size() / 2))).status(),
      "cut2.idx.gz", "corrupt");
  // Sizes whose product passes 2^64 (2^31 x 2^31 x 4 wraps around to 0) over no data: a header
  // that promises too much, not an empty tensor read from past the end of the buffer.
  const std::string wraps("\0\0\x08\x03\x80\0\0\0\x80\0\0\0\0\0\0\x04", 16);
  ExpectErrorMentions(ParseIdx(wraps, "wraps.idx").status(), "wraps.idx",
                      "sizes 2147483648 x 2147483648 x 4 are too large");
  // Found by tests/fuzz:idx_fuzzer: a zero size after sizes whose product passes 2^63.
  const std::string zero_last("\0\0\x08\x04\x1f\x02\x1f\0\0\x08\0\x04\0\x03\x04\0\0\0\0\0",
                              20);
  ExpectErrorMentions(ParseIdx(zero_last, "zero_last.idx").status(), "zero_last.idx",
                      "too large");
  const std::string empty_dim("\0\0\x08\x02\0\0\0\0\0\0\0\x05", 12);  // 0 x 5: empty
  absl::StatusOr<at::Tensor> empty = ParseIdx(empty_dim, "empty.idx");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->sizes(), (std::vector<int64_t>{0, 5}));
}

TEST(DataFiles, ChecksumMismatchAndManifest) {
  const std::string dir = absl::StrCat(TempDir(), "/cache");
  WriteFile("cache/set/a.bin", "abc");
  WriteFile("cache/CHECKSUMS.md5", "900150983cd24fb0d6963f7d28e17f72  set/a.bin\n");
  EXPECT_TRUE(VerifyAgainstManifest(dir, "set/a.bin").ok());
  WriteFile("cache/set/a.bin", "abd");  // damaged
  ExpectErrorMentions(VerifyAgainstManifest(dir, "set/a.bin"), "a.bin", "expected 9001509");
  ExpectErrorMentions(VerifyAgainstManifest(dir, "set/other.bin"), "not listed", kFetchCommand);
  ExpectErrorMentions(VerifyAgainstManifest(TempDir() + "/nowhere", "x"), "CHECKSUMS.md5",
                      kFetchCommand);
}

// A missing file, a dangling link, a directory and an unreadable file each get their own message
// (before, all four were "missing"), from the reader and from the checksum check alike.
TEST(DataFiles, SaysWhatIsWrongWithAPathThatIsNotAReadableFile) {
  namespace fs = std::filesystem;
  const std::string dir = TempDir() + "/kinds";
  fs::remove_all(dir);
  fs::create_directories(dir + "/a-directory.gz");
  fs::create_symlink(dir + "/nothing", dir + "/dangling.gz");
  for (const auto& read : {std::function<absl::Status(const std::string&)>(
                               [](const std::string& p) { return ReadDataFile(p).status(); }),
                           std::function<absl::Status(const std::string&)>(
                               [](const std::string& p) { return VerifyMd5(p, "0"); })}) {
    const absl::Status missing = read(dir + "/absent.gz");
    EXPECT_TRUE(absl::IsNotFound(missing)) << missing;
    ExpectErrorMentions(missing, "absent.gz", "is missing: run tools/setup.sh");
    const absl::Status dangling = read(dir + "/dangling.gz");
    EXPECT_TRUE(absl::IsNotFound(dangling)) << dangling;
    ExpectErrorMentions(dangling, "dangling.gz", "a link to nothing");
    const absl::Status directory = read(dir + "/a-directory.gz");
    EXPECT_TRUE(absl::IsFailedPrecondition(directory)) << directory;
    ExpectErrorMentions(directory, "a-directory.gz", "is a directory, not a file");
  }
  const std::string locked = WriteFile("kinds/locked.gz", "abc");
  fs::permissions(locked, fs::perms::none);
  if (access(locked.c_str(), R_OK) == 0) {
    GTEST_SKIP() << "this process reads files without read permission (root)";
  }
  const absl::Status unreadable = ReadDataFile(locked).status();
  EXPECT_TRUE(absl::IsPermissionDenied(unreadable)) << unreadable;
  ExpectErrorMentions(unreadable, "locked.gz", "cannot be read");
}

TEST(MnistLike, MissingDataNamesFileAndCommand) {
  absl::StatusOr<ImageDataset> d =
      LoadMnistLike(ImageSource::kFashionMnist, TempDir() + "/empty-cache");
  ExpectErrorMentions(d.status(), "fashion-mnist/train-images-idx3-ubyte.gz", kFetchCommand);
}

std::string CifarRecord(int label, uint8_t fill) {
  std::string r(1 + 3072, static_cast<char>(fill));
  r[0] = static_cast<char>(label);
  return r;
}

TEST(Cifar10, ParsesRecordsAndRejectsMalformedBatches) {
  at::Tensor images, labels;
  ASSERT_TRUE(
      ParseCifar10Batch(CifarRecord(3, 255) + CifarRecord(7, 0), "b", &images, &labels).ok());
  EXPECT_EQ(images.sizes(), (std::vector<int64_t>{2, 3, 32, 32}));
  EXPECT_EQ(labels[0].item<int64_t>(), 3);
  EXPECT_EQ(labels[1].item<int64_t>(), 7);
  EXPECT_FLOAT_EQ(images[0].max().item<float>(), 1.0f);
  ExpectErrorMentions(ParseCifar10Batch(CifarRecord(1, 0).substr(5), "cut", &images, &labels),
                      "cut", "3073-byte record");
  ExpectErrorMentions(ParseCifar10Batch(CifarRecord(12, 0), "bad", &images, &labels), "bad",
                      "label above 9");
  ExpectErrorMentions(LoadCifar10(TempDir() + "/no-cifar").status(), "data_batch_1.bin",
                      "cannot be fetched");
}

TEST(Cifar10, LoadsAllBatches) {
  for (int b = 1; b <= 5; ++b) {
    WriteFile(absl::StrCat("cifar/data_batch_", b, ".bin"), CifarRecord(b, 10));
  }
  WriteFile("cifar/test_batch.bin", CifarRecord(9, 20) + CifarRecord(0, 20));
  absl::StatusOr<ImageDataset> d = LoadCifar10(TempDir() + "/cifar");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->train_images.size(0), 5);
  EXPECT_EQ(d->test_labels.numel(), 2);
}

// A damaged CIFAR-10 gzip is "corrupt", not "missing ... cannot be fetched".
TEST(Cifar10, ACorruptGzipBatchIsCorruptNotMissing) {
  std::string gz;
  {
    std::ifstream in(WriteGzip("cifar-whole.gz", CifarRecord(1, 5)), std::ios::binary);
    gz.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  WriteFile("cifar-bad/data_batch_1.bin", gz.substr(0, gz.size() / 2));  // cut mid-stream
  const absl::Status status = LoadCifar10(TempDir() + "/cifar-bad").status();
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  ExpectErrorMentions(status, "data_batch_1.bin", "corrupt");
  EXPECT_EQ(status.message().find("is missing"), std::string::npos) << status;
}

TEST(Libsvm, ParsesSparseRowsAndNamesBadLines) {
  absl::StatusOr<SparseDataset> d =
      ParseLibsvm("1 1:0.5 3:2\n# comment\n-1 2:1.5  # trailing\n", "toy");
  ASSERT_TRUE(d.ok()) << d.status();
  at::Tensor dense = d->features.to_dense();
  EXPECT_EQ(dense.sizes(), (std::vector<int64_t>{2, 3}));
  EXPECT_FLOAT_EQ(dense[0][0].item<float>(), 0.5f);
  EXPECT_FLOAT_EQ(dense[0][2].item<float>(), 2.0f);
  EXPECT_FLOAT_EQ(dense[1][1].item<float>(), 1.5f);
  EXPECT_FLOAT_EQ(d->labels[1].item<float>(), -1.0f);
  ExpectErrorMentions(ParseLibsvm("1 1:2\nx 1:1\n", "f").status(), "line 2", "not a finite number");
  ExpectErrorMentions(ParseLibsvm("nan 1:1\n", "f").status(), "line 1", "not a finite number");
  ExpectErrorMentions(ParseLibsvm("1 2:inf\n", "f").status(), "line 1", "not finite");
  ExpectErrorMentions(ParseLibsvm("1 0:2\n", "f").status(), "line 1", "1-based");
  ExpectErrorMentions(ParseLibsvm("1 3:2 2:1\n", "f").status(), "line 1", "not increasing");
  ExpectErrorMentions(ParseLibsvm("1 3:abc\n", "f").status(), "line 1", "index:value");
  ExpectErrorMentions(ParseLibsvm("1 9:1\n", "f", 4).status(), "line 1", "exceeds");
  ExpectErrorMentions(ParseLibsvm("\n# only a comment\n", "f").status(), "f", "no examples");
}

TEST(TextCorpus, FortunesRecordsCategoriesAndChecksums) {
  const std::string dir = absl::StrCat(TempDir(), "/fortune-cache");
  const std::string a = "one\n%\ntwo\nlines\n%\nthree\n", b = "four\n%\nfive\n";
  WriteFile("fortune-cache/fortunes/alpha", a);
  WriteFile("fortune-cache/fortunes/beta", b);
  WriteFile("fortune-cache/CHECKSUMS.md5",
            absl::StrCat(Md5Hex(a), "  fortunes/alpha\n", Md5Hex(b), "  fortunes/beta\n"));
  absl::StatusOr<TextCorpus> corpus = LoadFortunes(dir, /*min_documents=*/2);
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  EXPECT_EQ(corpus->categories, (std::vector<std::string>{"alpha", "beta"}));
  EXPECT_EQ(corpus->documents.size(), 5u);
  EXPECT_EQ(corpus->documents[1], "two\nlines\n");
  EXPECT_EQ(corpus->labels, (std::vector<int64_t>{0, 0, 0, 1, 1}));
  WriteFile("fortune-cache/fortunes/beta", "four\n%\nfive!\n");
  ExpectErrorMentions(LoadFortunes(dir, 2).status(), "beta", "md5");
}

TEST(TextCorpus, TopicFolders) {
  WriteFile("news/sci.space/1", "rockets");
  WriteFile("news/sci.space/2", "orbit");
  WriteFile("news/rec.autos/9", "cars");
  absl::StatusOr<TextCorpus> corpus = LoadTopicFolders(TempDir() + "/news");
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  EXPECT_EQ(corpus->categories, (std::vector<std::string>{"rec.autos", "sci.space"}));
  EXPECT_EQ(corpus->labels, (std::vector<int64_t>{0, 1, 1}));
  EXPECT_FALSE(LoadTopicFolders(TempDir() + "/no-news").ok());
}

TEST(Tfidf, MatchesAHandComputedExample) {
  EXPECT_EQ(Tokenize("The cat's 2 dogs, a B-52!"),
            (std::vector<std::string>{"the", "cat", "dogs", "52"}));
  // n = 4 documents; with min_df = 2 the vocabulary is {cat, sat, the}.
  // idf(cat) = idf(sat) = ln(5/3) + 1, idf(the) = ln(5/5) + 1 = 1 ... computed below by hand:
  TfidfMatrix m = Tfidf({"the cat sat", "the dog sat", "the cat ran", "cat cat the"}, {});
  EXPECT_EQ(m.vocabulary, (std::vector<std::string>{"cat", "sat", "the"}));
  EXPECT_NEAR(m.idf[0], std::log(5.0 / 4.0) + 1.0, 1e-12);  // cat in 3 of 4 documents
  EXPECT_NEAR(m.idf[1], std::log(5.0 / 3.0) + 1.0, 1e-12);  // sat in 2
  EXPECT_NEAR(m.idf[2], 1.0, 1e-12);                        // the in all 4
  at::Tensor dense = m.features.to_dense();
  // Document 3, "cat cat the": tf(cat) = 1 + ln 2 (sublinear), tf(the) = 1, then unit norm.
  const double cat = (1 + std::log(2.0)) * (std::log(1.25) + 1.0), the = 1.0;
  const double norm = std::sqrt(cat * cat + the * the);
  EXPECT_NEAR(dense[3][0].item<float>(), cat / norm, 1e-6);
  EXPECT_NEAR(dense[3][1].item<float>(), 0.0, 1e-12);
  EXPECT_NEAR(dense[3][2].item<float>(), the / norm, 1e-6);
  for (int d = 0; d < 4; ++d) EXPECT_NEAR(dense[d].norm().item<float>(), 1.0, 1e-6);
}

}  // namespace
}  // namespace tasks
