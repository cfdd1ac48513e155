# Dependencies come from Debian packages (cmake/bootstrap.sh installs them);
# nothing is downloaded at build time.
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(Threads REQUIRED)
find_package(simdjson REQUIRED CONFIG)
find_package(Eigen3 REQUIRED CONFIG)
find_package(dnnl REQUIRED CONFIG)
if(OSSRT_BUILD_TESTS)
  find_package(doctest REQUIRED CONFIG)
endif()
