# --resume continues a killed run to the same final bits: a tiny run straight through on 2
# threads, and the same run on 1 thread stopped after 2 epochs (mid-teacher) and after 4
# (mid-students), each time resumed, must end with the same weights (CRC-32 of every model's
# parameters) and the same per-epoch losses in the JSON: so resuming, and the thread count,
# change no bit. A checkpoint of other settings must be refused. The students' transfer set
# has every part here (a student view of its own, label students on raw images, blends; every
# model with dropout, whose draws must repeat on resume and on any thread count), and a
# run of the conv form alone (--forms conv) must give its models the same bits as the full run.
# The label students train fewer epochs than the mimic students, each form its own number.
# With the default transfer set (flips only, no blends) the teacher's logits come from a cache
# filled before the students' first epoch: the same bits as --no-cache-logits, resumed or not.
# Usage: cmake -DMIMIC=<path to mimic> -DOUT=<dir> -P distill_resume.cmake
set(args distill --quick --train-limit 512 --test-limit 256 --teacher-epochs 3
    --student-epochs 3 --label-epochs 2 --conv-label-epochs 1 --seed 3 --student-shift 1
    --student-no-flip
    --label-no-augment --mixup 0.25 --teacher-dropout 0.25 --label-dropout 0.3
    --mimic-dropout 0.2 --l2-label-weight 1)
file(REMOVE_RECURSE "${OUT}")
function(run dir)
  execute_process(COMMAND "${MIMIC}" ${args} --out "${OUT}/${dir}" ${ARGN}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "mimic ${args} ${ARGN} exited with ${rc}: ${err}")
  endif()
  set(last_out "${out}" PARENT_SCOPE)
endfunction()
# The models' fingerprints and per-epoch losses of a finished run, as one string; of the
# models numbered in ARGN only, if given.
function(summary dir var)
  file(READ "${OUT}/${dir}/distill-seed3.json" json)
  string(JSON n LENGTH "${json}" models)
  math(EXPR last "${n} - 1")
  set(models ${ARGN})
  if(NOT models)
    foreach(i RANGE ${last})
      list(APPEND models ${i})
    endforeach()
  endif()
  set(s "")
  foreach(i ${models})
    string(JSON crc GET "${json}" models ${i} weights_crc32)
    string(JSON epochs GET "${json}" models ${i} epochs)
    string(APPEND s "${crc} ${epochs}\n")
  endforeach()
  set(${var} "${s}" PARENT_SCOPE)
endfunction()

run(straight --threads 2)
summary(straight want)
file(READ "${OUT}/straight/distill-seed3.json" json)
set(epochs "")
foreach(i RANGE 6)
  string(JSON e LENGTH "${json}" models ${i} epochs)
  string(APPEND epochs "${e} ")
endforeach()
string(JSON cle GET "${json}" settings conv_label_epochs)
if(NOT epochs STREQUAL "3 2 3 3 1 3 3 " OR NOT cle EQUAL 1)
  message(FATAL_ERROR "epochs per model '${epochs}' (want 3 2 3 3 1 3 3), conv_label_epochs ${cle}")
endif()
run(killed --threads 1 --stop-after 2)
if(NOT last_out MATCHES "stopped after 2 epochs" OR EXISTS "${OUT}/killed/distill-seed3.json")
  message(FATAL_ERROR "--stop-after 2 did not stop: ${last_out}")
endif()
run(killed --threads 1 --resume --stop-after 2)
run(killed --threads 1 --resume)
summary(killed got)
if(NOT got STREQUAL want)
  message(FATAL_ERROR "resumed run differs from the straight one:\n${got}\nwant\n${want}")
endif()
# Other settings over these checkpoints: refused with a message naming the file.
execute_process(COMMAND "${MIMIC}" ${args} --lr 0.01 --out "${OUT}/killed" --resume
                RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
if(rc EQUAL 0 OR NOT err MATCHES "other settings")
  message(FATAL_ERROR "a checkpoint of other settings was accepted (${rc}): ${err}")
endif()
# Fewer teacher epochs than the checkpoints hold: refused, naming the setting.
execute_process(COMMAND "${MIMIC}" ${args} --teacher-epochs 2 --out "${OUT}/killed" --resume
                RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
if(rc EQUAL 0 OR NOT err MATCHES "3 epochs done, more than this run's 2")
  message(FATAL_ERROR "a checkpoint with more epochs than the run was accepted (${rc}): ${err}")
endif()
# One form alone: the teacher and the conv form's three students as in the full run.
run(conv_only --threads 1 --forms conv)
summary(straight want_conv 0 4 5 6)
summary(conv_only got_conv)
if(NOT got_conv STREQUAL want_conv)
  message(FATAL_ERROR "--forms conv differs from the full run's conv models:\n${got_conv}\nwant\n"
                      "${want_conv}")
endif()
# The logit cache: the default student view (no shifts, flips, no blends) on a training set
# that is not a whole number of batches, the teacher run every step on 2 threads, against the
# cached logits on 1 thread, stopped mid-students and resumed (the cache filled again).
set(args distill --quick --train-limit 500 --test-limit 256 --teacher-epochs 2
    --student-epochs 2 --seed 3)
run(per_step --threads 2 --no-cache-logits)
summary(per_step want_per_step)
run(cached --threads 1 --stop-after 3)
run(cached --threads 1 --resume)
summary(cached got_cached)
file(READ "${OUT}/cached/distill-seed3.json" cached_json)
file(READ "${OUT}/per_step/distill-seed3.json" per_step_json)
string(JSON how_cached GET "${cached_json}" settings teacher_logits)
string(JSON how_per_step GET "${per_step_json}" settings teacher_logits)
if(NOT how_cached STREQUAL "cached" OR NOT how_per_step STREQUAL "per step")
  message(FATAL_ERROR "teacher_logits: '${how_cached}' and '${how_per_step}'")
endif()
if(NOT got_cached STREQUAL want_per_step)
  message(FATAL_ERROR "cached logits differ from per-step ones:\n${got_cached}\nper step\n"
                      "${want_per_step}")
endif()
message(STATUS "resumed run matches:\n${got}")
