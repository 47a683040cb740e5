# `mimic distill --quick` end to end: it must finish, write its JSON atomically, and learn.
# Usage: cmake -DMIMIC=<path to mimic> -DOUT=<dir> -P distill_smoke.cmake
file(REMOVE_RECURSE "${OUT}")
file(MAKE_DIRECTORY "${OUT}")
execute_process(COMMAND "${MIMIC}" distill --quick --seed 7 --out "${OUT}"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "mimic distill --quick exited with ${rc}")
endif()
set(json_path "${OUT}/distill-seed7.json")
if(NOT EXISTS "${json_path}" OR EXISTS "${json_path}.tmp")
  message(FATAL_ERROR "no ${json_path}, or a temp file was left behind")
endif()
file(READ "${json_path}" json)
string(JSON n LENGTH "${json}" models)
if(NOT n EQUAL 7)
  message(FATAL_ERROR "want 7 models (teacher + 2 forms x 3 trainings), got ${n}")
endif()
# A quick run sees 4096 images twice: far from converged, far above chance (10 %). The
# teacher reaches about 0.77 and must pass 0.5. The students' recipe is not tuned yet
# (docs/distill.md): the conv-form KD student has ended between 0.50 and 0.61 depending on
# the exp kernel's last bits, so students must pass 0.35, still 3.5x chance.
math(EXPR last "${n} - 1")
foreach(i RANGE ${last})
  string(JSON name GET "${json}" models ${i} name)
  string(JSON acc GET "${json}" models ${i} test_accuracy)
  string(JSON params GET "${json}" models ${i} params)
  message(STATUS "${name}: accuracy ${acc}, ${params} parameters")
  set(floor 0.35)
  if(i EQUAL 0)
    set(floor 0.5)
  endif()
  if(acc LESS floor)
    message(FATAL_ERROR "${name}: test accuracy ${acc} < ${floor} after the quick run")
  endif()
endforeach()
