# WAMR (built by v8x for QuickJS-ng's WebAssembly) fetches the header-only simde
# library with git at configure time. Point FetchContent at Debian's
# libsimde-dev instead, so the build never touches the network.
set(FETCHCONTENT_SOURCE_DIR_SIMDE "/usr/include" CACHE PATH "" FORCE)
set(FETCHCONTENT_FULLY_DISCONNECTED ON CACHE BOOL "" FORCE)
