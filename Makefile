# Thin wrappers over course.py, which sets up .venv itself; without make, run the same commands directly.
PYTHON ?= python3
# MODE=smoke on the command line, or COURSE_MODE=smoke in the environment
MODE ?= $(or $(COURSE_MODE),full)

.PHONY: course test bench exercises lab setup clean

course:  ## run every notebook (MODE=full|smoke|lecture, NB=05 for one, PRECISION=mixed_float16 to force the GPU path)
	$(PYTHON) course.py course --mode $(MODE) $(if $(NB),--nb $(NB)) $(if $(PRECISION),--precision $(PRECISION))

test:    ## unit tests, every notebook in smoke mode, nbval
	$(PYTHON) course.py test

bench:   ## training benchmarks (PART=recipes|transfer|tuning|threads|layout to pick one)
	$(PYTHON) course.py bench $(PART)

exercises:  ## notebook copies without solutions, in build/exercises/
	$(PYTHON) course.py exercises

lab:     ## JupyterLab in notebooks/ with the course's kernel
	$(PYTHON) course.py lab

setup:
	$(PYTHON) course.py setup

clean:
	rm -rf build
