"""Workflows: jobflow flows built from engine makers, and how to run them.

- :mod:`~oredox.workflows.engines`: the engines behind one interface (``chgnet``,
  ``vasp``, ``gpaw``) and :func:`~oredox.workflows.engines.get_engine`;
- :mod:`~oredox.workflows.dftu`: DFT+U presets and initial moments;
- :mod:`~oredox.workflows.screening`: ranking and selecting configurations before the
  engine (Ewald, CHGNet); :mod:`~oredox.workflows.chgnet_points`: its CHGNet stage;
- :mod:`~oredox.workflows.hull_flow`: :class:`DelithiationHullMaker
  <oredox.workflows.hull_flow.DelithiationHullMaker>`, the delithiation hull flow;
- :mod:`~oredox.workflows.study_document`: the job that assembles the stored study;
- :mod:`~oredox.workflows.templates`: study templates (YAML) and the one path from a
  template to a flow (:meth:`StudyTemplate.flow
  <oredox.workflows.templates.StudyTemplate.flow>`);
- :mod:`~oredox.workflows.study`: running a template locally, or a dry run of its
  inputs;
- :mod:`~oredox.workflows.demo`: the demo, a shipped template on embedded defaults;
- :mod:`~oredox.workflows.execution`: local runs with progress and a resumable journal;
- :mod:`~oredox.workflows.threads`: the thread count of the engines in this process;
- :mod:`~oredox.workflows.cluster`, :mod:`~oredox.workflows.submit`: SLURM profiles and
  submission through FireWorks or jobflow-remote.
"""
