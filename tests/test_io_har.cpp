// Human-activity formats: WISDM, UCI-HAR and .ts files that the tests write, and a table of
// malformed inputs that must each be an error naming the file and line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "frugal/core/error.h"
#include "frugal/io/har.h"

using namespace frugal;

namespace {
std::string temp(const std::string& name, const std::string& text) {
  std::string p = (std::filesystem::temp_directory_path() / ("frugal_har_" + name)).string();
  std::ofstream(p) << text;
  return p;
}

void expect_error(const std::string& path, const std::string& needle) {
  try {
    if (path.find(".ts") != std::string::npos)
      io::read_ts(path);
    else
      io::read_wisdm(path);
    FAIL() << path << ": accepted";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find(path), std::string::npos) << m;
    EXPECT_NE(m.find(needle), std::string::npos) << m;
  }
}
}  // namespace

TEST(Wisdm, ReadsV1AndV2Records) {
  std::string p = temp("ok.txt",
                       "33,Jogging,49105962326000,-0.6946377,12.680544,0.50395286;\n"
                       "33,Walking,49106062271000,5.012288,11.264028,0.95342433;33,Walking,1,2,3,4;\n\n"
                       "1600,A,252207666810782,-0.36476135,8.793503,1.0550842;\n");
  io::WisdmData d = io::read_wisdm(p);
  ASSERT_EQ(d.records.size(), 4u);
  EXPECT_EQ(d.activities[d.records[0].activity], "Jogging");
  EXPECT_EQ(d.records[1].activity, d.records[2].activity);
  EXPECT_EQ(d.activities[d.records[3].activity], "walking");
  EXPECT_EQ(d.records[3].subject, 1600);
  EXPECT_FLOAT_EQ(d.records[0].y, 12.680544f);
}

TEST(Wisdm, MalformedLinesNameFileAndLine) {
  expect_error(temp("missing.txt", "33,Jogging,1,2,3,4;\n33,Jogging,1,2,3;\n"), ":2");
  expect_error(temp("nonnum.txt", "33,Jogging,1,2,abc,4;\n"), "not a finite number");
  expect_error(temp("code.txt", "33,Flying,1,2,3,4;\n"), "unknown activity code 'Flying'");
  expect_error(temp("codeN.txt", "33,N,1,2,3,4;\n"), "unknown activity code 'N'");
  expect_error(temp("nan.txt", "33,A,1,2,nan,4;\n"), "not a finite number");
  expect_error(temp("empty.txt", "\n\n"), "no records");
}

TEST(Ts, ReadsMultivariateSeries) {
  std::string p = temp("ok.ts",
                       "# comment\n@problemName Tiny\n@timeStamps false\n@univariate false\n@dimensions 2\n"
                       "@equalLength true\n@seriesLength 3\n@classLabel true walk run\n@data\n"
                       "1,2,3:4,5,6:run\n-1,-2,-3:0.5,0.25,0:walk\n");
  io::SeriesSet s = io::read_ts(p);
  EXPECT_EQ(s.channels, 2);
  EXPECT_EQ(s.length, 3);
  ASSERT_EQ(s.size(), 2);
  EXPECT_EQ(s.labels[0], 1);
  EXPECT_EQ(s.values[3], 4.0f);
  EXPECT_EQ(s.values[6], -1.0f);
}

TEST(Ts, MalformedFiles) {
  const std::string head = "@classLabel true a b\n@data\n";
  expect_error(temp("ragged.ts", head + "1,2:3:a\n"), "expected 2");
  expect_error(temp("label.ts", head + "1,2:3,4:c\n"), "unknown class label 'c'");
  expect_error(temp("dims.ts", head + "1,2:3,4:a\n1,2:a\n"), "dimensions");
  expect_error(temp("nodata.ts", "@classLabel true a\n"), "no @data");
  expect_error(temp("value.ts", head + "1,x:3,4:a\n"), "not a finite number");
}

TEST(UciHar, ReadsWindowsLabelsSubjects) {
  std::string dir = (std::filesystem::temp_directory_path() / "frugal_uci/train").string();
  std::filesystem::create_directories(dir + "/Inertial Signals");
  std::ofstream(dir + "/y_train.txt") << "5\n1\n";
  std::ofstream(dir + "/subject_train.txt") << "7\n9\n";
  for (const char* s : {"body_acc_x", "body_acc_y", "body_acc_z", "body_gyro_x", "body_gyro_y", "body_gyro_z",
                        "total_acc_x", "total_acc_y", "total_acc_z"})
    std::ofstream(dir + "/Inertial Signals/" + s + "_train.txt") << "  1.0e+00 2.0e+00 3.0e+00 4.0e+00\n  5 6 7 8\n";
  io::SeriesSet s = io::read_uci_har(dir, "train");
  EXPECT_EQ(s.channels, 9);
  EXPECT_EQ(s.length, 4);
  EXPECT_EQ(s.labels, (std::vector<int>{4, 0}));
  EXPECT_EQ(s.subjects, (std::vector<int>{7, 9}));
  EXPECT_EQ(s.values[9 * 4], 5.0f);
  std::ofstream(dir + "/y_train.txt") << "5\n8\n";
  EXPECT_THROW(io::read_uci_har(dir, "train"), Error);
  std::ofstream(dir + "/y_train.txt") << "5\n1\n";
  std::ofstream(dir + "/Inertial Signals/body_acc_y_train.txt") << "1 2 3 4\n5 6 7\n";
  try {
    io::read_uci_har(dir, "train");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("body_acc_y_train.txt:2"), std::string::npos) << e.what();
  }
}
